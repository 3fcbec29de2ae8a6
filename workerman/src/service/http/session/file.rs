//! `FileSessionHandler`: one file `session_<id>` per session in a directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{BoxFuture, SessionHandler};

/// Sessions as files `session_<id>` in a directory; a file older than the lifetime is expired.
/// Writes go to a temporary file renamed into place, so a reader never sees half a session.
#[derive(Debug, Clone)]
pub struct FileSessionHandler {
    dir: PathBuf,
    lifetime: Duration,
}

impl FileSessionHandler {
    /// Sessions under `dir`, created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(FileSessionHandler {
            dir,
            lifetime: super::SessionConfig::default().lifetime,
        })
    }

    /// Sessions whose file is older than `lifetime` read as absent (default 1440 s; keep it
    /// equal to [`SessionConfig::lifetime`](super::SessionConfig::lifetime)).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("session_{id}"))
    }
}

fn expired(path: &Path, lifetime: Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > lifetime)
}

impl SessionHandler for FileSessionHandler {
    fn read<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let path = self.path(id);
            if expired(&path, self.lifetime) {
                let _ = fs::remove_file(&path);
                return Ok(None);
            }
            match fs::read(path) {
                Ok(data) => Ok(Some(data)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn write<'a>(&'a self, id: &'a str, data: &'a [u8], _lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.path(id);
            let tmp = self.dir.join(format!(".session_{id}.{}", std::process::id()));
            // Owner-only: session data and ids are private to the service.
            {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(data)?;
            }
            fs::rename(&tmp, &path)
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match fs::remove_file(self.path(id)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }

    fn update_timestamp<'a>(&'a self, id: &'a str, _lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            // The file's mtime is its age (Workerman touches the file).
            match fs::OpenOptions::new().append(true).open(self.path(id)) {
                Ok(f) => f.set_modified(SystemTime::now()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn gc<'a>(&'a self, lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            for entry in fs::read_dir(&self.dir)?.flatten() {
                let name = entry.file_name();
                if name.to_string_lossy().starts_with("session_") && expired(&entry.path(), lifetime) {
                    let _ = fs::remove_file(entry.path());
                }
            }
            Ok(())
        })
    }
}
