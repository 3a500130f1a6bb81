//! Writing the pack so that a reader never sees half of it: every file goes into a fresh
//! folder beside the output folder, which then takes the output folder's place by renaming.
//! A build that fails before that leaves the previous pack as it was.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Marks a folder as a pack this tool wrote, so `build` may replace it; lists its files.
pub const MARKER: &str = ".sentinel-kms-pack";

/// Writes `files` (paths relative to `out`) as the new content of `out`. A folder that is not
/// empty and holds no marker is never replaced: it is not ours to delete.
pub fn write_pack(out: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    // A symbolic link is followed: the pack replaces the folder it points to, and the link stays.
    let resolved;
    let out = if out.is_symlink() {
        resolved = std::fs::canonicalize(out).map_err(|e| failed(out, e))?;
        resolved.as_path()
    } else {
        out
    };
    refuse_foreign_folder(out)?;
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| failed(&parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".sentinel-kms-build-")
        .tempdir_in(&parent)
        .map_err(|e| failed(&parent, e))?;
    let mut listing =
        String::from("# Written by sentinel-kms build; replaced whole by the next build.\n");
    for (path, bytes) in files {
        let target = staging.path().join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder).map_err(|e| failed(folder, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| failed(&out.join(path), e))?;
        listing.push_str(&format!("{}\n", path.display()));
    }
    std::fs::write(staging.path().join(MARKER), listing).map_err(|e| failed(out, e))?;
    swap_in(staging.keep(), out, &parent)
}

fn failed(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn refuse_foreign_folder(out: &Path) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(Error::usage(format!(
            "`{}` is a file; give `--out` a folder",
            out.display()
        )));
    }
    let is_pack = out.join(MARKER).is_file();
    let empty = std::fs::read_dir(out)
        .map_err(|e| failed(out, e))?
        .next()
        .is_none();
    if is_pack || empty {
        return Ok(());
    }
    Err(Error::usage(format!(
        "`{}` is not empty and holds no content pack written by sentinel-kms; give `--out` a \
         new or empty folder",
        out.display()
    )))
}

/// Puts the staged folder in `out`'s place: the old pack moves aside, the new one is renamed
/// in, the old one is deleted. Should the second rename fail, the old pack is put back.
fn swap_in(staged: PathBuf, out: &Path, parent: &Path) -> Result<()> {
    let old = if out.exists() {
        let aside = tempfile::Builder::new()
            .prefix(".sentinel-kms-previous-")
            .tempdir_in(parent)
            .map_err(|e| failed(parent, e))?
            .keep();
        // The empty folder only reserved a unique name; the old pack takes it.
        std::fs::remove_dir(&aside).map_err(|e| failed(&aside, e))?;
        if let Err(error) = std::fs::rename(out, &aside) {
            let _ = std::fs::remove_dir_all(&staged);
            return Err(failed(out, error));
        }
        Some(aside)
    } else {
        None
    };
    if let Err(error) = std::fs::rename(&staged, out) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(failed(out, error));
    }
    if let Some(old) = old {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}
