//! One example at a time: an in-process mutex (threads of one test binary) held together with an
//! `flock` on a fixed file (test binaries run side by side, as `cargo nextest` does, and the tests
//! of other crates in the workspace). Re-entrant per thread: a test may run several apps at once.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The file every test that starts an example locks, under the system temp dir.
pub const LOCK_FILE: &str = "workerman-tests-examples.lock";

static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// The guard this thread holds, if any (apps of one test share it).
    static HELD: RefCell<Weak<Held>> = const { RefCell::new(Weak::new()) };
}

struct Held {
    // Field order: the file lock is released before the in-process lock.
    _file: File,
    _serial: MutexGuard<'static, ()>,
}

/// Held for the whole time a test runs example binaries (every [`crate::App`] holds one).
/// Cloning within a thread is free; the lock is released when the last clone is dropped.
#[derive(Clone)]
pub struct ExamplesGuard {
    _held: Rc<Held>,
}

impl ExamplesGuard {
    /// Waits for the guard (this thread's, if it holds it already). Prints who is waited for
    /// when the wait is long, so a stuck run says why.
    pub fn acquire() -> ExamplesGuard {
        if let Some(held) = HELD.with(|h| h.borrow().upgrade()) {
            return ExamplesGuard { _held: held };
        }
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let file = lock_file();
        let held = Rc::new(Held {
            _file: file,
            _serial: serial,
        });
        HELD.with(|h| *h.borrow_mut() = Rc::downgrade(&held));
        ExamplesGuard { _held: held }
    }
}

fn lock_path() -> PathBuf {
    std::env::temp_dir().join(LOCK_FILE)
}

fn lock_file() -> File {
    let path = lock_path();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open the examples lock {}: {e}", path.display()));
    let started = Instant::now();
    let mut told = false;
    loop {
        // SAFETY: flock on a descriptor this function owns; no memory is involved.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return file;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) && err.kind() != std::io::ErrorKind::Interrupted {
            panic!("cannot lock {}: {err}", path.display());
        }
        if !told && started.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "waiting for {} (another test process runs an example: {})",
                path.display(),
                crate::procfs::lock_holders(&path).join(", ")
            );
            told = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
