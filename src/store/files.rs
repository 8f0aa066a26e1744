//! SQLite's files hold candidates' personal data: the folder the relay creates is its user's
//! only (0700) and so is the database file (0600), whatever the umask; SQLite gives its WAL and
//! shared-memory files the database file's mode. An existing file others can read is warned
//! about at start, not changed: someone may have shared it on purpose. A folder the relay
//! cannot write in is one clear error at start.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::StoreError;

/// Makes the database's folder (0700) and an empty database file (0600) if they are missing;
/// warns about an existing database file, or its WAL, that others can read.
pub(super) fn create(db: &Path) -> Result<(), StoreError> {
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(folder) = folder
        && !folder.exists()
    {
        let failed = |e| StoreError::Folder(folder.display().to_string(), e);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(failed)?;
        // The umask may have taken bits off the mode asked for (or a weird one added none).
        fs::set_permissions(folder, fs::Permissions::from_mode(0o700)).map_err(failed)?;
    }
    if db.exists() {
        warn_if_shared(db);
        return Ok(());
    }
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(db)
    {
        Ok(_) => {
            // An empty file is an empty SQLite database; SQLite keeps the mode it finds.
            let _ = fs::set_permissions(db, fs::Permissions::from_mode(0o600));
            Ok(())
        }
        // Made by another process meanwhile: it is there, which is what was wanted.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // Left to the writability check, which says what to do about it.
        Err(_) => Ok(()),
    }
}

/// The group or others may read it: say so once, at start, with the fix.
fn warn_if_shared(db: &Path) {
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    for file in [db.to_path_buf(), wal] {
        if let Ok(meta) = fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %file.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the database file is readable by other users of this machine, and it holds candidates' personal data: chmod 600 it (and its -wal and -shm files)"
            );
        }
    }
}

/// SQLite must be able to create the database, its journal and its WAL in the folder. Checked
/// up front, so a read-only mount (a root-owned volume, say) is one clear error at startup
/// rather than a minute of "unable to open database file" retries.
pub(super) fn writable(db: &Path) -> Result<(), StoreError> {
    let folder = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = folder.join(format!(".relay-write-check-{}", std::process::id()));
    let result = fs::File::create(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .and_then(|_| {
            if db.exists() {
                fs::OpenOptions::new().append(true).open(db).map(drop)
            } else {
                Ok(())
            }
        });
    result.map_err(|error| StoreError::NotWritable {
        folder: folder.display().to_string(),
        uid: current_uid(),
        error,
    })
}

/// This process's uid, read from /proc (no libc binding needed); "?" elsewhere.
fn current_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "?".into())
}
