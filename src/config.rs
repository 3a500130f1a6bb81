//! The optional configuration file (`--config FILE`, TOML): the workspaces to check, with display
//! names, and the AWS accounts and regions each is expected to receive findings from.
//!
//! ```toml
//! expect = ["111122223333/eu-west-1"]          # for every workspace
//!
//! [[workspace]]
//! id = "2b2d3c4e-0000-0000-0000-000000000000"
//! name = "Contoso production"
//! expect = ["111122223333/us-east-1", "444455556666/eu-west-1"]
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Account/region pairs every workspace should receive findings from.
    #[serde(default)]
    pub expect: Vec<String>,
    #[serde(default, rename = "workspace")]
    pub workspaces: Vec<WorkspaceConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    pub id: String,
    pub name: Option<String>,
    #[serde(default)]
    pub expect: Vec<String>,
}

/// An AWS account and region that should deliver findings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expected {
    pub account: String,
    pub region: String,
}

impl Expected {
    /// Parses `ACCOUNT/REGION`: a 12-digit account ID and a region name such as `eu-west-1`.
    pub fn parse(text: &str) -> std::result::Result<Expected, String> {
        let (account, region) = text.trim().split_once('/').ok_or_else(|| {
            format!("`{text}` is not ACCOUNT/REGION (e.g. 111122223333/eu-west-1)")
        })?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}`: the account `{account}` is not a 12-digit AWS account ID"
            ));
        }
        let region_ok = region.split('-').count() >= 3
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && region.ends_with(|c: char| c.is_ascii_digit());
        if !region_ok {
            return Err(format!(
                "`{text}`: `{region}` is not an AWS region name (e.g. eu-west-1)"
            ));
        }
        Ok(Expected {
            account: account.to_string(),
            region: region.to_string(),
        })
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = std::fs::read(path).map_err(|error| {
            Error::usage(format!("cannot read config `{}`: {error}", path.display()))
        })?;
        let text = String::from_utf8(bytes).map_err(|error| {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
            Error::usage(format!(
                "{}:{line}: the config file is not valid UTF-8",
                path.display()
            ))
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|error| {
            let line = error.span().map_or(0, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            });
            Error::usage(format!("{}:{line}: {}", path.display(), error.message()))
        })?;
        for pair in config
            .expect
            .iter()
            .chain(config.workspaces.iter().flat_map(|w| &w.expect))
        {
            Expected::parse(pair).map_err(|message| {
                Error::usage(format!(
                    "{}: expected group {message}",
                    position(path, &text, pair)
                ))
            })?;
        }
        for workspace in &mut config.workspaces {
            match uuid::Uuid::try_parse(workspace.id.trim()) {
                // One spelling for every ID (as `--workspace` writes it), so a workspace given
                // both ways, braced or without hyphens, is still one workspace.
                Ok(id) => workspace.id = id.hyphenated().to_string(),
                Err(_) => {
                    return Err(Error::usage(format!(
                        "{}: workspace id `{}` is not a GUID (the Workspace ID on the workspace's \
                         Overview page)",
                        position(path, &text, &workspace.id),
                        workspace.id
                    )));
                }
            }
        }
        Ok(config)
    }

    /// The groups expected in `workspace`: the file's common ones and its own.
    pub fn expected_in(&self, workspace: &str) -> Vec<Expected> {
        let own = self
            .workspaces
            .iter()
            .filter(|w| w.id.eq_ignore_ascii_case(workspace))
            .flat_map(|w| &w.expect);
        let mut groups: Vec<Expected> = self
            .expect
            .iter()
            .chain(own)
            .filter_map(|text| Expected::parse(text).ok())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
}

/// `file:line` of the first string literal in `text` that holds `value` (TOML keeps no
/// positions once deserialised), or the file alone when it cannot be found.
fn position(path: &Path, text: &str, value: &str) -> String {
    let found = ["\"", "'"]
        .iter()
        .filter_map(|quote| text.find(&format!("{quote}{value}{quote}")))
        .min();
    match found {
        Some(offset) => format!(
            "{}:{}",
            path.display(),
            text[..offset].matches('\n').count() + 1
        ),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_groups_parse_and_reject() {
        assert_eq!(
            Expected::parse("111122223333/eu-west-1").unwrap(),
            Expected {
                account: "111122223333".into(),
                region: "eu-west-1".into()
            }
        );
        assert!(Expected::parse("us-gov-west-1").is_err());
        assert!(
            Expected::parse("11112222333/eu-west-1")
                .unwrap_err()
                .contains("12-digit")
        );
        assert!(
            Expected::parse("111122223333/Europe")
                .unwrap_err()
                .contains("region name")
        );
        assert!(Expected::parse("111122223333/eu-west").is_err());
    }

    #[test]
    fn workspace_ids_are_written_one_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[[workspace]]\nid = \"{00000000-0000-0000-0000-00000000000A}\"\n\
             [[workspace]]\nid = \"000000000000000000000000000000b1\"\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let ids: Vec<&str> = config.workspaces.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "00000000-0000-0000-0000-00000000000a",
                "00000000-0000-0000-0000-0000000000b1"
            ]
        );
    }

    #[test]
    fn config_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentinel-kms.toml");
        std::fs::write(
            &path,
            "expect = []\n\n[[workspace]]\nid = \"x\"\ncolour = 1\n",
        )
        .unwrap();
        let error = Config::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("sentinel-kms.toml:5: unknown field `colour`"),
            "{error}"
        );

        std::fs::write(&path, "expect = [\"111122223333/nowhere\"]\n").unwrap();
        assert!(
            Config::load(&path)
                .unwrap_err()
                .to_string()
                .contains("not an AWS region name")
        );

        std::fs::write(&path, "[[workspace]]\nid = \"not-a-guid\"\n").unwrap();
        assert!(
            Config::load(&path)
                .unwrap_err()
                .to_string()
                .contains("`not-a-guid` is not a GUID")
        );
    }

    #[test]
    fn expectations_combine_common_and_own() {
        let config: Config = toml::from_str(
            "expect = [\"111122223333/eu-west-1\"]\n[[workspace]]\nid = \"00000000-0000-0000-0000-000000000001\"\nexpect = [\"444455556666/us-east-1\", \"111122223333/eu-west-1\"]\n",
        )
        .unwrap();
        let groups = config.expected_in("00000000-0000-0000-0000-000000000001");
        assert_eq!(groups.len(), 2);
        assert_eq!(
            config
                .expected_in("00000000-0000-0000-0000-000000000002")
                .len(),
            1
        );
    }
}
