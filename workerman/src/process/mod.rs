//! A worker process: one current-thread tokio runtime, created after exec, never in the master.
//!
//! Lifecycle: read the role from the environment → find this process's worker in the registry →
//! take the inherited listener (or bind with `SO_REUSEPORT`) → `on_worker_start` → accept until a
//! stop or reload signal → `on_worker_stop` → close or drain connections → exit.
//!
//! Orders from the master come by signal (`order.rs`: stop, graceful stop, reload, graceful
//! reload); status and connections requests come over the report channel (`answer.rs`). A
//! graceful stop stops accepting and waits for the connections to end.

use std::cell::{Cell, RefCell};
use std::os::fd::RawFd;
use std::rc::Rc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::order::{self, Order};
use crate::panic::PanicReport;
use crate::settings;
use crate::stats;
use crate::sys;
use crate::worker::{AnyWorker, GracefulStop, registry};

pub(crate) mod accept;
mod answer;
pub(crate) mod privileges;

/// `<worker index>:<id>` of the process to become.
pub(crate) const ENV_WORKER: &str = "WORKERMAN_WORKER";
/// Inherited listening socket.
pub(crate) const ENV_LISTEN_FD: &str = "WORKERMAN_LISTEN_FD";
/// Set when the master runs as a daemon.
pub(crate) const ENV_DAEMON: &str = "WORKERMAN_DAEMON";

/// What the master asked this process to be.
pub(crate) struct Role {
    index: usize,
    id: usize,
    fd: Option<RawFd>,
    /// This process's end of the report channel.
    channel: Option<RawFd>,
    daemon: bool,
}

/// The role passed by the master, if this process is a worker process.
pub(crate) fn role_from_env() -> Option<Role> {
    let spec = std::env::var(ENV_WORKER).ok()?;
    let (index, id) = spec.split_once(':')?;
    let role = Role {
        index: index.parse().ok()?,
        id: id.parse().ok()?,
        fd: std::env::var(ENV_LISTEN_FD).ok().and_then(|s| s.parse().ok()),
        channel: std::env::var(crate::report::ENV_CHANNEL_FD)
            .ok()
            .and_then(|s| s.parse().ok()),
        daemon: std::env::var_os(ENV_DAEMON).is_some(),
    };
    sys::remove_env(&[
        ENV_WORKER,
        ENV_LISTEN_FD,
        ENV_DAEMON,
        settings::ENV_START_FILE,
        crate::report::ENV_CHANNEL_FD,
    ]);
    Some(role)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Process,
    Standalone,
}

thread_local! {
    static STOP: Rc<Notify> = Rc::new(Notify::new());
    static STOP_GRACEFUL: Cell<Option<bool>> = const { Cell::new(None) };
    static MODE: Cell<Mode> = const { Cell::new(Mode::Process) };
    static STANDALONE_PANIC: RefCell<Option<PanicReport>> = const { RefCell::new(None) };
}

/// Asks this process to stop (from a callback: `Worker::stop_all`).
pub(crate) fn request_stop(graceful: bool) {
    STOP_GRACEFUL.with(|g| {
        if g.get().is_none() {
            g.set(Some(graceful));
        }
    });
    STOP.with(|n| n.notify_one());
}

/// The master of this worker process, set when the process becomes a worker.
static MASTER: std::sync::OnceLock<nix::unistd::Pid> = std::sync::OnceLock::new();

/// Asks the master to reload, as `./app reload [-g]` does.
/// Returns false outside a worker process (the master, `run_standalone`) or when the signal fails.
pub(crate) fn request_reload(graceful: bool) -> bool {
    let Some(&master) = MASTER.get() else {
        return false;
    };
    Order::Reload { graceful }.send(master).is_ok()
}

/// In standalone mode a panic without handler stops the loop instead of exiting the process.
pub(crate) fn standalone_panic(report: &PanicReport) -> bool {
    if MODE.with(Cell::get) != Mode::Standalone {
        return false;
    }
    STANDALONE_PANIC.with(|p| *p.borrow_mut() = Some(report.clone()));
    request_stop(false);
    true
}

/// What wakes the worker process's supervising loop.
enum Wake {
    /// An order from the master (by signal).
    Order(Order),
    /// `Worker::stop_all()` (or a limit) from inside this process: the master should replace it.
    StopRequested { graceful: bool },
}

/// The orders received by signal, forwarded by one task per signal.
struct Signals {
    orders: mpsc::UnboundedReceiver<Order>,
}

impl Signals {
    /// Installed before `on_worker_start`, so a signal during start-up is never lost or fatal.
    /// Every signal of the order table is caught, including status and connections (answered
    /// over the report channel, never by signal): their default action would kill the process.
    fn install() -> std::io::Result<Signals> {
        let (tx, orders) = mpsc::unbounded_channel();
        for (sig, order) in order::SIGNALS {
            let mut stream = signal(SignalKind::from_raw(sig as i32))?;
            let tx = tx.clone();
            tokio::task::spawn_local(async move {
                while stream.recv().await.is_some() {
                    if tx.send(order).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Signals { orders })
    }

    /// Waits for a hard stop order (other orders are ignored meanwhile).
    async fn hard_stop(&mut self) {
        while let Some(order) = self.orders.recv().await {
            if order == (Order::Stop { graceful: false }) {
                return;
            }
        }
        std::future::pending::<()>().await
    }

    async fn next(&mut self) -> Wake {
        let stop = STOP.with(Rc::clone);
        loop {
            tokio::select! {
                Some(order) = self.orders.recv() => match order {
                    Order::Stop { .. } | Order::Reload { .. } => return Wake::Order(order),
                    Order::Status | Order::Connections => continue,
                },
                _ = stop.notified() => return Wake::StopRequested { graceful: STOP_GRACEFUL.with(Cell::get).unwrap_or(false) },
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot create the event loop", e))
}

/// Becomes the worker process described by `role`; never returns.
pub(crate) fn run_worker(role: Role) -> ! {
    settings::get().daemonized = role.daemon;
    let _ = MASTER.set(nix::unistd::getppid());
    sys::ignore_sigpipe();
    let workers = registry::all();
    let initial = workers.len();
    let Some(worker) = workers.get(role.index).cloned() else {
        settings::log(&format!(
            "worker process {}: the start file defines only {initial} workers, not {}",
            std::process::id(),
            role.index + 1
        ));
        std::process::exit(1);
    };
    let spec = worker.spec();
    crate::panic::install(&spec.name, false);
    sys::set_process_name(&format!("wm {}", spec.name));
    let transport = worker.spec().transport;
    let listener = role.fd.map(|fd| crate::listen::Bound::from_inherited(transport, fd));
    let code = match runtime() {
        Ok(rt) => {
            let local = tokio::task::LocalSet::new();
            let channel = role.channel;
            // The supervising future runs as a task of its own: the future given to block_on is
            // polled on every wake-up of any task, so it must be cheap (a join handle).
            local.block_on(&rt, async move {
                if let Some(fd) = channel {
                    answer::start(fd);
                }
                tokio::task::spawn_local(serve(worker, role.id, listener, initial))
                    .await
                    .unwrap_or(1)
            })
        }
        Err(e) => {
            settings::log(&e.to_string());
            1
        }
    };
    std::process::exit(code)
}

async fn serve(worker: Rc<dyn AnyWorker>, id: usize, listener: Option<crate::listen::Bound>, initial: usize) -> i32 {
    let name = worker.spec().name;
    let pid = std::process::id();
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            settings::log(&format!("worker[{name}:{pid}] cannot install signal handlers: {e}"));
            return 1;
        }
    };
    let listener = match worker.bind(listener) {
        Ok(l) => l,
        Err(e) => {
            settings::log(&format!("worker[{name}:{pid}] cannot listen: {e}"));
            return 1;
        }
    };
    let spec = worker.spec();
    if let Err(e) = privileges::drop_to(spec.user.as_deref(), spec.group.as_deref()) {
        settings::log(&format!("worker[{name}:{pid}] cannot switch user: {e}"));
        return 1;
    }
    if let Err(e) = worker.start(id, listener) {
        settings::log(&format!("worker[{name}:{pid}] cannot start: {e}"));
        return 1;
    }
    let spec = worker.spec();
    let limits = (spec.max_requests.is_some() || spec.max_memory.is_some())
        .then(|| tokio::task::spawn_local(watch_limits(spec.max_requests, spec.max_memory)));
    let graceful = loop {
        match signals.next().await {
            Wake::Order(Order::Stop { graceful }) => break graceful,
            Wake::StopRequested { graceful } => {
                // Expected, not a crash: the master starts the replacement right away.
                answer::announce_retire("Worker::stop_all called").await;
                break graceful;
            }
            Wake::Order(Order::Status | Order::Connections) => {}
            Wake::Order(Order::Reload { graceful }) => {
                worker.reload();
                if worker.spec().reloadable {
                    break graceful;
                }
            }
        }
    };
    // Already going away: no retirement on top of it.
    if let Some(limits) = limits {
        limits.abort();
    }
    // This process's worker, plus any created by listen() in this process.
    let all = registry::all();
    stats::set_stopping();
    worker.stop(graceful);
    for w in all.iter().skip(initial) {
        w.stop(graceful);
    }
    // A hard stop (SIGINT, SIGHUP) during a graceful drain turns it into a hard one.
    let drained = if graceful {
        tokio::select! {
            done = drain_connections(true) => done,
            _ = signals.hard_stop() => drain_connections(false).await,
        }
    } else {
        drain_connections(false).await
    };
    if !drained {
        settings::log(&format!(
            "worker[{name}:{pid}] {} connection(s) still open after stop_timeout; exiting",
            stats::snapshot().connections
        ));
    }
    0
}

/// Ends this process's connections after a stop or reload; `false` if some are still open.
///
/// Every connection first gets the chance to finish what it is doing, and keep-alive protocols
/// end keep-alive meanwhile (`Context::stopping`: HTTP answers `Connection: close`), so no request
/// in flight is cut. A connection closed here hears the protocol's goodbye first (WebSocket:
/// `1001 Going Away`).
///
/// Graceful: each accepted connection as its worker's [`GracefulStop`] says — closed once quiet
/// for the given time (no time limit), or left to the client; when any is left to the client,
/// whatever is still open after `stop_timeout` is closed. Outgoing connections close once quiet
/// for 1 s. Otherwise: quiet for 100 ms, and whatever is still open shortly before
/// `stop_timeout` is closed (after flushing).
pub(crate) async fn drain_connections(graceful: bool) -> bool {
    let stop_timeout = settings::get().stop_timeout;
    if graceful {
        let polite = async {
            tokio::select! {
                _ = stats::all_closed() => {}
                _ = close_when_quiet(graceful_quiet) => {}
            }
        };
        let waits_for_clients = crate::connection::registry::all()
            .iter()
            .any(|c| c.graceful_stop() == Some(GracefulStop::WaitForClient));
        if !waits_for_clients {
            polite.await;
            return true;
        }
        if tokio::time::timeout(stop_timeout, polite).await.is_ok() {
            return true;
        }
        return close_the_rest().await;
    }
    let soft = stop_timeout.saturating_sub(FORCE_CLOSE_MARGIN);
    let polite = async {
        tokio::select! {
            _ = stats::all_closed() => {}
            _ = close_when_quiet(|_| Some(QUIET_ON_STOP)) => {}
        }
    };
    if tokio::time::timeout(soft, polite).await.is_ok() {
        return true;
    }
    close_the_rest().await
}

/// How long a connection must be quiet before a graceful stop closes it; `None`: never (the
/// client closes it).
fn graceful_quiet(conn: &dyn crate::connection::registry::Inspect) -> Option<std::time::Duration> {
    match conn.graceful_stop() {
        Some(GracefulStop::CloseWhenQuiet(quiet)) => Some(quiet),
        Some(GracefulStop::WaitForClient) => None,
        None => Some(IDLE_BEFORE_CLOSE),
    }
}

/// Closes every connection still open (after flushing); `false` if some are still open
/// `FORCE_CLOSE_MARGIN` later.
async fn close_the_rest() -> bool {
    for conn in crate::connection::registry::all() {
        conn.going_away();
    }
    tokio::time::timeout(FORCE_CLOSE_MARGIN, stats::all_closed())
        .await
        .is_ok()
}

/// `Worker::run_standalone`: every worker of the start file in this thread, as one process.
pub(crate) fn run_standalone() -> Result<()> {
    MODE.with(|m| m.set(Mode::Standalone));
    stats::clear_stopping();
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| crate::panic::install("standalone", true));
    crate::panic::set_name("standalone");
    crate::panic::set_handler(None);
    STOP_GRACEFUL.with(|g| g.set(None));
    let rt = runtime()?;
    let local = tokio::task::LocalSet::new();
    let workers = registry::all();
    let result = local.block_on(&rt, async move {
        for w in &workers {
            let listener = w.bind(None)?;
            w.start(0, listener)?;
        }
        let stop = STOP.with(Rc::clone);
        stop.notified().await;
        let graceful = STOP_GRACEFUL.with(Cell::get).unwrap_or(false);
        stats::set_stopping();
        for w in registry::all() {
            w.stop(graceful);
        }
        drain_connections(graceful).await;
        Ok::<(), Error>(())
    });
    crate::timer::Timer::del_all();
    STOP_GRACEFUL.with(|g| g.set(None));
    result?;
    match STANDALONE_PANIC.with(|p| p.borrow_mut().take()) {
        Some(report) => Err(Error::Panicked(report)),
        None => Ok(()),
    }
}

/// Retires this process once it passes `max_requests` or `max_memory`.
async fn watch_limits(max_requests: Option<u64>, max_memory: Option<u64>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        let requests = stats::snapshot().total_request;
        let reason = match (max_requests, max_memory) {
            (Some(max), _) if requests >= max => format!("handled {requests} requests, max_requests is {max}"),
            (_, Some(max)) => {
                let rss = crate::report::rss_bytes();
                if rss < max {
                    continue;
                }
                format!("uses {rss} bytes of memory, max_memory is {max}")
            }
            _ => continue,
        };
        answer::announce_retire(&reason).await;
        request_stop(true);
        return;
    }
}

/// Closes each connection once it has been quiet (no bytes in or out, nothing buffered) for
/// `quiet(conn)` (`None`: never); never returns (the caller races it against "all closed").
async fn close_when_quiet(quiet: impl Fn(&dyn crate::connection::registry::Inspect) -> Option<std::time::Duration>) {
    use std::collections::HashMap;
    let mut last: HashMap<usize, (u64, tokio::time::Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(IDLE_POLL);
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let mut seen = HashMap::new();
        for conn in crate::connection::registry::all() {
            let key = std::rc::Rc::as_ptr(&conn) as *const () as usize;
            let Some((moved, is_quiet)) = conn.activity() else {
                continue;
            };
            let since = match last.get(&key) {
                Some((before, at)) if *before == moved && is_quiet => *at,
                _ => now,
            };
            if is_quiet && quiet(&*conn).is_some_and(|q| now.duration_since(since) >= q) {
                conn.going_away();
            }
            seen.insert(key, (moved, since));
        }
        last = seen;
    }
}

/// A connection quiet this long is closed by a graceful stop or reload.
const IDLE_BEFORE_CLOSE: std::time::Duration = std::time::Duration::from_secs(1);
/// A connection quiet this long is closed by a (non-graceful) stop or reload.
const QUIET_ON_STOP: std::time::Duration = std::time::Duration::from_millis(100);
/// A non-graceful stop force-closes what is left this long before `stop_timeout`.
const FORCE_CLOSE_MARGIN: std::time::Duration = std::time::Duration::from_millis(300);
/// How often quiet connections are looked for.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(50);
