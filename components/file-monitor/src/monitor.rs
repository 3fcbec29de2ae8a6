//! The FileMonitor worker: one process, not reloadable, that watches paths with `notify` and asks
//! the master to reload when a burst of changes is over and every changed file is complete.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use workerman::Worker;
use workerman::protocol::Tcp;

use crate::complete::{check_executable, snapshot};
use crate::debounce::{DEFAULT_MAX_DELAY, DEFAULT_QUIET, Debounce};
use crate::filter::Filter;

/// Default time a changed file must hold still (size and mtime) before a reload: 250 ms.
pub const DEFAULT_STABLE_FOR: Duration = Duration::from_millis(250);
/// Default time after which a file that keeps changing is given up on (no reload): 60 s.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Watches files and reloads the worker processes when they change (Workerman's FileMonitor).
///
/// ```no_run
/// use workerman::{Worker, protocol::Text};
/// use workerman_file_monitor::FileMonitor;
///
/// fn main() -> workerman::Result<()> {
///     let app = Worker::<Text>::new("text://0.0.0.0:2369")?;
///     app.on_message(|conn, _line| {
///         conn.send(format!("pid {}", std::process::id()));
///     });
///     // Watches the executable's directory: `cargo build` replacing the binary reloads `app`.
///     FileMonitor::new().install();
///     Worker::run_all()
/// }
/// ```
#[derive(Clone, Debug)]
pub struct FileMonitor {
    paths: Vec<PathBuf>,
    filter: Filter,
    quiet: Duration,
    max_delay: Duration,
    stable_for: Duration,
    give_up_after: Duration,
    in_daemon: bool,
    graceful: bool,
}

impl Default for FileMonitor {
    fn default() -> Self {
        Self::new()
    }
}

impl FileMonitor {
    /// A monitor of the running executable's directory (not recursive), with the default
    /// [`Filter`]: on in foreground mode, off in daemon mode.
    pub fn new() -> Self {
        FileMonitor {
            paths: Vec::new(),
            filter: Filter::default(),
            quiet: DEFAULT_QUIET,
            max_delay: DEFAULT_MAX_DELAY,
            stable_for: DEFAULT_STABLE_FOR,
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            in_daemon: false,
            graceful: false,
        }
    }

    /// Watches `path` (recursively for a directory) instead of the executable's directory; call
    /// again for more paths. The executable itself is always checked before a reload.
    pub fn watch(mut self, path: impl Into<PathBuf>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Counts only files with these extensions (`["rs", "toml"]`); the executable always counts.
    pub fn extensions(mut self, list: &[&str]) -> Self {
        self.filter.extensions = Some(list.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Also skips directories with this name below a watched directory (default: target, .git,
    /// .hg, .svn, node_modules).
    pub fn ignore_dir(mut self, name: &str) -> Self {
        self.filter.ignored_dirs.push(name.to_string());
        self
    }

    /// Replaces the whole filter.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// A burst of changes ends after this long without one (default 300 ms).
    pub fn quiet(mut self, quiet: Duration) -> Self {
        self.quiet = quiet;
        self
    }

    /// A burst is acted on at most this long after its first change (default 2 s).
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// How long changed files must hold still before a reload (default 250 ms).
    pub fn stable_for(mut self, stable_for: Duration) -> Self {
        self.stable_for = stable_for;
        self
    }

    /// Also watches in daemon mode (`start -d`); off by default, as in Workerman.
    pub fn in_daemon(mut self, on: bool) -> Self {
        self.in_daemon = on;
        self
    }

    /// Reloads gracefully (`reload -g`: processes finish their connections first).
    pub fn graceful(mut self, on: bool) -> Self {
        self.graceful = on;
        self
    }

    /// Creates the monitor's worker: named `FileMonitor`, one process, not reloadable, no listener.
    /// Call it before [`Worker::run_all`], like any worker.
    pub fn install(self) -> Worker<Tcp> {
        let worker = Worker::without_listener();
        worker.set_name("FileMonitor");
        worker.set_count(1);
        worker.set_reloadable(false);
        let config = Rc::new(self);
        worker.on_worker_start(move |_| start(Rc::clone(&config)));
        worker
    }
}

/// The running executable's path (`/proc/self/exe` of a replaced binary ends in " (deleted)").
fn executable() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let s = exe.to_string_lossy();
    Some(match s.strip_suffix(" (deleted)") {
        Some(p) => PathBuf::from(p),
        None => exe,
    })
}

fn start(config: Rc<FileMonitor>) {
    if Worker::daemonized() && !config.in_daemon {
        workerman::log!("FileMonitor: off in daemon mode (FileMonitor::in_daemon(true) turns it on)");
        return;
    }
    let Some(exe) = executable() else {
        workerman::log!("FileMonitor: cannot find the running executable; not watching");
        return;
    };
    let roots: Vec<(PathBuf, RecursiveMode)> = if config.paths.is_empty() {
        let dir = exe
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        vec![(dir, RecursiveMode::NonRecursive)]
    } else {
        config
            .paths
            .iter()
            .map(|p| (p.clone(), RecursiveMode::Recursive))
            .collect()
    };
    let (tx, rx) = unbounded_channel();
    // notify calls this from its own thread: the channel brings events onto the event loop.
    let mut watcher = match notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    }) {
        Ok(w) => w,
        Err(e) => {
            workerman::log!("FileMonitor: cannot watch files: {e}");
            return;
        }
    };
    let mut watched = Vec::new();
    for (root, mode) in roots {
        let root = root.canonicalize().unwrap_or(root);
        match watcher.watch(&root, mode) {
            Ok(()) => watched.push(root),
            Err(e) => workerman::log!("FileMonitor: cannot watch {}: {e}", root.display()),
        }
    }
    if watched.is_empty() {
        return;
    }
    let list: Vec<String> = watched.iter().map(|p| p.display().to_string()).collect();
    workerman::log!("FileMonitor: watching {}", list.join(", "));
    workerman::spawn(watch_loop(watcher, rx, config, watched, exe));
}

/// Whether an event kind can mean new content (reads and access-time updates cannot).
fn counts(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::Ownership | MetadataKind::Permissions)) => true,
        _ => true,
    }
}

type Events = UnboundedReceiver<notify::Result<notify::Event>>;

async fn watch_loop(
    _watcher: RecommendedWatcher,
    mut rx: Events,
    config: Rc<FileMonitor>,
    roots: Vec<PathBuf>,
    exe: PathBuf,
) {
    let mut debounce = Debounce::new(config.quiet, config.max_delay);
    let mut changed = BTreeSet::new();
    loop {
        // `None`: the burst is due; `Some(None)`: the watcher is gone.
        let event = match debounce.deadline() {
            Some(at) => tokio::select! {
                biased;
                _ = tokio::time::sleep_until(at.into()) => None,
                event = rx.recv() => Some(event),
            },
            None => Some(rx.recv().await),
        };
        match event {
            Some(Some(event)) => note(event, &config, &roots, &exe, &mut changed, &mut debounce),
            Some(None) => return,
            None => {
                debounce.reset();
                let files: Vec<PathBuf> = std::mem::take(&mut changed).into_iter().collect();
                act(&config, &exe, &files).await;
                // Changes seen while checking are on disk now: this reload (or refusal) covered them.
                while rx.try_recv().is_ok() {}
            }
        }
    }
}

fn note(
    event: notify::Result<notify::Event>,
    config: &FileMonitor,
    roots: &[PathBuf],
    exe: &Path,
    changed: &mut BTreeSet<PathBuf>,
    debounce: &mut Debounce,
) {
    let event = match event {
        Ok(e) => e,
        Err(e) => {
            workerman::log!("FileMonitor: watch error: {e}");
            return;
        }
    };
    if !counts(&event.kind) {
        return;
    }
    for path in event.paths {
        let accepted = roots
            .iter()
            .any(|root| path.starts_with(root) && config.filter.accepts(root, &path, exe));
        if accepted {
            changed.insert(path);
            debounce.change(Instant::now());
        }
    }
}

/// Waits for the changed files to hold still, checks the executable, then asks for the reload.
async fn act(config: &FileMonitor, exe: &Path, files: &[PathBuf]) {
    let started = Instant::now();
    loop {
        let before: Vec<_> = files.iter().map(|f| snapshot(f)).collect();
        tokio::time::sleep(config.stable_for).await;
        let after: Vec<_> = files.iter().map(|f| snapshot(f)).collect();
        if before == after {
            break;
        }
        if started.elapsed() > config.give_up_after {
            workerman::log!(
                "FileMonitor: files still changing after {:?}, not reloading",
                config.give_up_after
            );
            return;
        }
    }
    // The master execs this path for every new worker process: it must be whole.
    if let Err(why) = check_executable(exe) {
        workerman::log!(
            "FileMonitor: {} is {why}; not reloading until it is complete",
            exe.display()
        );
        return;
    }
    let first = files.first().map(|f| f.display().to_string()).unwrap_or_default();
    let more = match files.len() {
        0 | 1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    workerman::log!("FileMonitor: {first}{more} updated and reload");
    if !Worker::reload_all(config.graceful) {
        workerman::log!("FileMonitor: cannot signal the master to reload");
    }
}
