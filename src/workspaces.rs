//! The workspaces of a run: those given with `--workspace` and those the config file lists,
//! each once, with the display name the config gives it, and the share of them one shard of a
//! pipeline matrix checks (`--shard I/N`).

use std::fmt;
use std::str::FromStr;

use crate::config::Config;

/// One workspace to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The workspace ID, lowercase hyphenated.
    pub id: String,
    /// The config file's display name for it.
    pub name: Option<String>,
}

impl Workspace {
    /// The name people know it by: the display name, else the ID.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// The workspaces of the command line, then those only the config file lists, each once (IDs
/// compared without regard to case), named as the config file names them.
pub fn collect(from_flags: &[String], config: &Config) -> Vec<Workspace> {
    let ids = from_flags
        .iter()
        .cloned()
        .chain(config.workspaces.iter().map(|w| w.id.clone()));
    let mut workspaces: Vec<Workspace> = Vec::new();
    for id in ids {
        let id = id.trim().to_ascii_lowercase();
        if workspaces.iter().any(|w| w.id == id) {
            continue;
        }
        let name = config
            .workspaces
            .iter()
            .find(|w| w.id.trim().eq_ignore_ascii_case(&id))
            .and_then(|w| w.name.clone())
            .filter(|name| !name.trim().is_empty());
        workspaces.push(Workspace { id, name });
    }
    workspaces
}

/// Shard `index` of `count` (1-based), as `--shard I/N` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// More shards than this is a mistake rather than a matrix.
const MAX_SHARDS: usize = 1000;

impl Shard {
    /// Parses `I/N` with 1 <= I <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let wrong = || {
            format!("`{text}` is not a shard: give I/N with 1 <= I <= N <= {MAX_SHARDS}, e.g. 2/4")
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(wrong)?;
        let index: usize = index.trim().parse().map_err(|_| wrong())?;
        let count: usize = count.trim().parse().map_err(|_| wrong())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(wrong());
        }
        Ok(Shard { index, count })
    }

    /// This shard's workspaces. The list is ordered by ID first, so every shard of a matrix
    /// agrees on the split whatever order the workspaces were given in, and dealt out in turn:
    /// shard I takes the I-th, the (I+N)-th, and so on. The shards never overlap, together hold
    /// every workspace, and differ in size by one at most.
    pub fn select(&self, workspaces: &[Workspace]) -> Vec<Workspace> {
        let mut ordered = workspaces.to_vec();
        ordered.sort_by(|a, b| a.id.cmp(&b.id));
        ordered
            .into_iter()
            .enumerate()
            .filter(|(position, _)| position % self.count == self.index - 1)
            .map(|(_, workspace)| workspace)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        Shard::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WorkspaceConfig;

    fn id(n: usize) -> String {
        format!("00000000-0000-0000-0000-{n:012}")
    }

    fn list(count: usize) -> Vec<Workspace> {
        (1..=count)
            .map(|n| Workspace {
                id: id(n),
                name: None,
            })
            .collect()
    }

    #[test]
    fn shards_parse_and_reject() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert_eq!(Shard::parse(" 1 / 1 ").unwrap().to_string(), "1/1");
        for bad in ["0/4", "5/4", "2", "a/b", "1/0", "-1/4", "1/1001", ""] {
            let error = Shard::parse(bad).unwrap_err();
            assert!(
                error.contains(&format!("`{bad}` is not a shard")),
                "{error}"
            );
        }
    }

    #[test]
    fn shards_cover_every_workspace_once_in_any_given_order() {
        let workspaces = list(20);
        let mut reversed = workspaces.clone();
        reversed.reverse();
        for count in 1..=7 {
            let mut seen: Vec<String> = Vec::new();
            for index in 1..=count {
                let shard = Shard { index, count };
                let part = shard.select(&workspaces);
                assert_eq!(part, shard.select(&reversed), "order matters for {shard}");
                let expected = 20 / count + usize::from(index <= 20 % count);
                assert_eq!(part.len(), expected, "size of {shard}");
                seen.extend(part.into_iter().map(|w| w.id));
            }
            seen.sort();
            assert_eq!(seen, (1..=20).map(id).collect::<Vec<_>>(), "{count} shards");
        }
    }

    #[test]
    fn more_shards_than_workspaces_leaves_some_empty() {
        let workspaces = list(2);
        assert_eq!(Shard { index: 3, count: 3 }.select(&workspaces), vec![]);
        assert_eq!(Shard { index: 2, count: 3 }.select(&workspaces).len(), 1);
    }

    #[test]
    fn flags_and_config_merge_with_names_and_without_repeats() {
        let config = Config {
            expect: vec![],
            workspaces: vec![
                WorkspaceConfig {
                    id: id(2).to_uppercase(),
                    name: Some("Contoso".into()),
                    expect: vec![],
                },
                WorkspaceConfig {
                    id: id(3),
                    name: Some(" ".into()),
                    expect: vec![],
                },
            ],
        };
        let workspaces = collect(&[id(1), id(2), id(1)], &config);
        let labels: Vec<&str> = workspaces.iter().map(Workspace::label).collect();
        assert_eq!(labels, [id(1).as_str(), "Contoso", id(3).as_str()]);
        assert_eq!(workspaces[1].id, id(2));
    }
}
