//! Async work on the worker's own event loop.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

/// Runs `future` on this worker process's event loop, alongside connections and timers.
///
/// Use it from any callback to do async work (an upstream request, a database query, a sleep)
/// and reply later through a cloned connection handle. A panic inside is handled like a panic in
/// a callback (logged; the process exits with status 250 unless an error handler is set).
///
/// ```no_run
/// use std::time::Duration;
/// use workerman::{TcpConnection, protocol::Text};
/// fn on_message(conn: &TcpConnection<Text>, line: String) {
///     let conn = conn.clone();
///     workerman::spawn(async move {
///         tokio::time::sleep(Duration::from_millis(10)).await;
///         conn.send(format!("later: {line}"));
///     });
/// }
/// ```
///
/// # Panics
/// Outside a worker process's event loop (before `run_all`, or in the master).
pub fn spawn<F>(future: F) -> JoinHandle<Option<F::Output>>
where
    F: Future + 'static,
    F::Output: 'static,
{
    tokio::task::spawn_local(Guarded {
        inner: Box::pin(future),
    })
}

struct Guarded<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Guarded<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Some(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                crate::panic::caught(payload);
                Poll::Ready(None)
            }
        }
    }
}

/// Keeps a stopping (or reloading) worker process alive while some work finishes.
///
/// A process that stops exits once its connections are closed; work that runs without a
/// connection of its own (a task finishing a job whose connection is gone) would be cut short.
/// While a `StopHold` lives the process does not exit, up to `stop_timeout` (a graceful stop
/// waits as long as it takes). Cheap: take one around each unit of work that must not be cut.
///
/// ```no_run
/// workerman::spawn(async {
///     let _hold = workerman::hold_stop();
///     // ... finish the job ...
/// });
/// ```
pub fn hold_stop() -> StopHold {
    crate::stats::hold_taken();
    StopHold {
        _not_send: std::marker::PhantomData,
    }
}

/// Returned by [`hold_stop`]; releases the hold when dropped.
#[derive(Debug)]
#[must_use = "the hold ends when this is dropped"]
pub struct StopHold {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for StopHold {
    fn drop(&mut self) {
        crate::stats::hold_released();
    }
}
