//! [`GlobalDataServer`]: the built-in server, a Worker speaking PHP GlobalData's wire.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use workerman::protocol::Frame;
use workerman::{Timer, Worker, log};

use crate::protocol::{Request, parse_request};
use crate::store::{Store, now_ms};

/// Where the server listens unless told otherwise (PHP's default).
pub const DEFAULT_ADDRESS: &str = "0.0.0.0:2207";

/// How often expired TTL entries are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Snapshot {
    path: PathBuf,
    interval: Option<Duration>,
}

/// The GlobalData server: a `frame://` Worker (count 1, named `globalDataServer`, not
/// reloadable) holding the data in its process's memory, answering PHP's `GlobalData\Client`
/// and [`GlobalDataClient`](crate::GlobalDataClient) alike.
///
/// A bad request (undecodable body, object payload, missing `cmd`/`key`, an array key, a
/// non-numeric step) gets PHP's `bad request` reply and closes that one connection with a log
/// line; frames over 10 MiB close the connection too. Everyone else carries on.
///
/// ```no_run
/// use std::time::Duration;
/// use workerman_global_data::GlobalDataServer;
///
/// let server = GlobalDataServer::new("0.0.0.0:2207").unwrap();
/// server.set_snapshot("/var/lib/app/global-data.snap", Some(Duration::from_secs(60)));
/// workerman::Worker::run_all();
/// ```
pub struct GlobalDataServer {
    worker: Worker<Frame>,
    snapshot: Rc<RefCell<Option<Snapshot>>>,
}

impl GlobalDataServer {
    /// A server on `address`: `host:port`, `frame://host:port` or `unix:///path`.
    pub fn new(address: &str) -> workerman::Result<GlobalDataServer> {
        let address = if address.contains("://") {
            address.to_string()
        } else {
            format!("frame://{address}")
        };
        let worker = Worker::<Frame>::new(&address)?;
        worker.set_name("globalDataServer");
        worker.set_count(1);
        worker.set_reloadable(false);
        let store = Rc::new(RefCell::new(Store::new()));
        let snapshot: Rc<RefCell<Option<Snapshot>>> = Rc::default();

        let (st, snap) = (store.clone(), snapshot.clone());
        worker.on_worker_start(move |_| {
            let Some(cfg) = snap.borrow().clone() else {
                start_sweeper(st.clone());
                return;
            };
            match load(&cfg.path) {
                Ok(Some(loaded)) => {
                    log!("GlobalData: loaded {} keys from {}", loaded.len(), cfg.path.display());
                    *st.borrow_mut() = loaded;
                }
                Ok(None) => {}
                Err(e) => log!("GlobalData: cannot load snapshot {}: {e}", cfg.path.display()),
            }
            if let Some(every) = cfg.interval {
                let st = st.clone();
                Timer::repeat(every, move || save(&st.borrow(), &cfg.path));
            }
            start_sweeper(st.clone());
        });
        let (st, snap) = (store.clone(), snapshot.clone());
        worker.on_worker_stop(move |_| {
            if let Some(cfg) = snap.borrow().as_ref() {
                save(&st.borrow(), &cfg.path);
            }
        });
        worker.on_message(move |conn, body| match parse_request(&body) {
            Request::Ping => {}
            Request::Command(cmd) => {
                let reply = store.borrow_mut().execute(cmd, now_ms());
                conn.send(&reply[..]);
            }
            Request::Reject { reply, reason } => {
                log!(
                    "GlobalData: bad request from {}: {reason}; closing the connection",
                    conn.remote_address().map_or("?".into(), |a| a.to_string())
                );
                conn.close_with(&reply[..]);
            }
        });
        Ok(GlobalDataServer { worker, snapshot })
    }

    /// Keeps the data in a snapshot file: loaded at start, written at stop and, with
    /// `interval`, every `interval` (atomically: a temporary file renamed over the old one).
    /// Off by default, as in PHP (all data is lost when the process ends).
    pub fn set_snapshot(&self, path: impl Into<PathBuf>, interval: Option<Duration>) {
        *self.snapshot.borrow_mut() = Some(Snapshot {
            path: path.into(),
            interval,
        });
    }

    /// The underlying Worker (to change its name, user, ...).
    pub fn worker(&self) -> &Worker<Frame> {
        &self.worker
    }
}

fn start_sweeper(store: Rc<RefCell<Store>>) {
    Timer::repeat(SWEEP_INTERVAL, move || {
        store.borrow_mut().sweep(now_ms());
    });
}

fn load(path: &Path) -> std::io::Result<Option<Store>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Store::from_snapshot(&bytes, now_ms())
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn save(store: &Store, path: &Path) {
    let bytes = store.snapshot(now_ms());
    let tmp = path.with_extension("tmp");
    let result = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        log!("GlobalData: cannot write snapshot {}: {e}", path.display());
    }
}
