//! Writing result files so that a reader never sees half of one: the bytes go to a temporary
//! file in the same folder, which then replaces the target in one rename. A run that fails or is
//! interrupted before the rename leaves the previous file (or no file) in place.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically, creating the parent folder when it is missing.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let failed = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(parent).map_err(failed)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".sentinel-kms-").suffix(".tmp");
    // A temporary file is private to its owner; the result file is an ordinary one, readable
    // as the umask allows (by the step that publishes it, for one).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(parent).map_err(failed)?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(failed)?;
    file.persist(path).map_err(|error| failed(error.error))?;
    Ok(())
}

/// Writes the report of a command other than `validate` and `doctor` (which neutralise each
/// value as they render, since they write logging commands of their own) to stdout. Inside a
/// CI system it is filtered first, as its logs are: a check file, a policy or a key policy
/// given to the tool may hold text that an agent would take for a command.
pub fn print(text: &str) -> Result<()> {
    let env = crate::client::auth::ProcessEnvironment;
    let text = if crate::report::ci::protects(crate::report::ci::CiChoice::None, &env) {
        std::borrow::Cow::Owned(crate::report::ci::neutralise::text(text))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let mut stdout = std::io::stdout().lock();
    (stdout.write_all(text.as_bytes()))
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/report.xml");
        write_file(&path, b"first").unwrap();
        write_file(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.xml")]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_gets_the_permissions_of_an_ordinary_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ordinary = dir.path().join("ordinary");
        std::fs::write(&ordinary, b"x").unwrap();
        let written = dir.path().join("junit.xml");
        write_file(&written, b"x").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&written), mode(&ordinary));
    }

    #[test]
    fn a_folder_in_the_way_is_a_write_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let error = write_file(dir.path(), b"x").unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&dir.path().display().to_string())
        );
    }
}
