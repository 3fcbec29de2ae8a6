//! Which changed paths count: pure functions over paths, no I/O.

use std::ffi::OsStr;
use std::path::Path;

/// Directory names skipped anywhere below a watched directory (default): build output and
/// version-control metadata, which change all the time during a build or a commit.
pub const DEFAULT_IGNORED_DIRS: &[&str] = &["target", ".git", ".hg", ".svn", "node_modules"];

/// File extensions never counted (default): Workerman's own log and pid files, lock files,
/// editors' swap and temporary files.
pub const DEFAULT_IGNORED_EXTENSIONS: &[&str] = &["log", "pid", "lock", "tmp", "swp", "swx", "swo"];

/// The filter a [`FileMonitor`](crate::FileMonitor) applies to every changed path.
#[derive(Clone, Debug)]
pub struct Filter {
    /// When set, only files with one of these extensions count (the executable always counts).
    pub extensions: Option<Vec<String>>,
    /// Directory names skipped below a watched root (default [`DEFAULT_IGNORED_DIRS`]).
    pub ignored_dirs: Vec<String>,
    /// Extensions never counted (default [`DEFAULT_IGNORED_EXTENSIONS`]).
    pub ignored_extensions: Vec<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            extensions: None,
            ignored_dirs: DEFAULT_IGNORED_DIRS.iter().map(|s| s.to_string()).collect(),
            ignored_extensions: DEFAULT_IGNORED_EXTENSIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Filter {
    /// Whether a change of `path`, found below the watched `root`, counts. `exe` is the running
    /// executable, which always counts.
    pub fn accepts(&self, root: &Path, path: &Path, exe: &Path) -> bool {
        if path == exe {
            return true;
        }
        let rel = path.strip_prefix(root).unwrap_or(path);
        let mut parts: Vec<&OsStr> = rel.iter().collect();
        let Some(name) = parts.pop() else {
            return false;
        };
        if parts
            .iter()
            .any(|p| self.ignored_dirs.iter().any(|d| OsStr::new(d) == *p))
        {
            return false;
        }
        let name = name.to_string_lossy();
        // Editors' backup and lock files: `file~`, `.#file`, `4913` (vim's write probe).
        if name.ends_with('~') || name.starts_with(".#") || name == "4913" {
            return false;
        }
        let ext = Path::new(name.as_ref())
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        if let Some(ext) = &ext
            && self.ignored_extensions.iter().any(|i| i.eq_ignore_ascii_case(ext))
        {
            return false;
        }
        match (&self.extensions, &ext) {
            (None, _) => true,
            (Some(list), Some(ext)) => list.iter().any(|e| e.trim_start_matches('.').eq_ignore_ascii_case(ext)),
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(f: &Filter, path: &str) -> bool {
        f.accepts(Path::new("/app"), Path::new(path), Path::new("/app/bin/server"))
    }

    #[test]
    fn default_filter_skips_build_output_logs_and_editor_files() {
        let f = Filter::default();
        assert!(accepts(&f, "/app/src/main.rs"));
        assert!(accepts(&f, "/app/config.toml"));
        assert!(accepts(&f, "/app/touched"));
        assert!(!accepts(&f, "/app/target/debug/deps/x.o"));
        assert!(!accepts(&f, "/app/.git/index"));
        assert!(!accepts(&f, "/app/workerman.log"));
        assert!(!accepts(&f, "/app/workerman.server.pid"));
        assert!(!accepts(&f, "/app/src/.main.rs.swp"));
        assert!(!accepts(&f, "/app/src/main.rs~"));
        assert!(!accepts(&f, "/app/src/.#main.rs"));
    }

    #[test]
    fn ignored_dirs_apply_below_the_root_only() {
        let f = Filter::default();
        let root = Path::new("/home/me/app/target/release");
        let exe = Path::new("/home/me/app/target/release/server");
        assert!(f.accepts(root, Path::new("/home/me/app/target/release/static.html"), exe));
        assert!(!f.accepts(root, Path::new("/home/me/app/target/release/target/x"), exe));
    }

    #[test]
    fn extension_list_restricts_but_the_executable_always_counts() {
        let f = Filter {
            extensions: Some(vec!["rs".into(), ".toml".into()]),
            ..Filter::default()
        };
        assert!(accepts(&f, "/app/src/lib.RS"));
        assert!(accepts(&f, "/app/Cargo.toml"));
        assert!(!accepts(&f, "/app/README.md"));
        assert!(!accepts(&f, "/app/Makefile"));
        assert!(accepts(&f, "/app/bin/server"));
    }
}
