//! What happens when user code panics inside a worker process.
//!
//! The panic hook records the message and location and logs them; the framework catches the
//! unwind at the callback boundary. Without an error handler the process then exits with status
//! 250 and the master starts a replacement; with one (see `Worker::set_error_handler`), the
//! handler gets the report and the process carries on.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use crate::settings;

/// Exit status of a worker process that stops because of a panic (Workerman's 250).
pub const PANIC_EXIT_STATUS: i32 = 250;

/// A panic caught at a callback boundary.
#[derive(Debug, Clone)]
pub struct PanicReport {
    message: String,
    location: String,
}

impl PanicReport {
    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// `file:line:column` where it happened.
    pub fn location(&self) -> &str {
        &self.location
    }
}

impl fmt::Display for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked at {}: {}", self.location, self.message)
    }
}

pub(crate) type Handler = Rc<dyn Fn(&PanicReport)>;

thread_local! {
    static LAST: RefCell<Option<PanicReport>> = const { RefCell::new(None) };
    static HANDLER: RefCell<Option<Handler>> = const { RefCell::new(None) };
    static NAME: RefCell<String> = const { RefCell::new(String::new()) };
}

fn payload_message(payload: &dyn Any) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// Installs the logging hook; `name` identifies the process in log lines. With `chain`, the
/// previous hook runs too (standalone mode keeps the host program's panic output).
pub(crate) fn install(name: &str, chain: bool) {
    set_name(name);
    let previous = if chain { Some(panic::take_hook()) } else { None };
    panic::set_hook(Box::new(move |info| {
        let report = PanicReport {
            message: payload_message(info.payload()),
            location: info
                .location()
                .map(|l| l.to_string())
                .unwrap_or_else(|| "<unknown>".into()),
        };
        let who = NAME.try_with(|n| n.borrow().clone()).unwrap_or_default();
        settings::log(&format!("worker[{who}:{}] {report}", std::process::id()));
        let _ = LAST.try_with(|l| *l.borrow_mut() = Some(report));
        if let Some(prev) = &previous {
            prev(info);
        }
    }));
}

/// Names this thread's process in panic log lines.
pub(crate) fn set_name(name: &str) {
    NAME.with(|n| *n.borrow_mut() = name.to_string());
}

pub(crate) fn set_handler(h: Option<Handler>) {
    HANDLER.with(|slot| *slot.borrow_mut() = h);
}

/// Handles a caught panic: the error handler if one is set, else exit 250.
pub(crate) fn caught(payload: Box<dyn Any + Send>) {
    let report = LAST.with(|l| l.borrow_mut().take()).unwrap_or_else(|| PanicReport {
        message: payload_message(&*payload),
        location: "<unknown>".into(),
    });
    let handler = HANDLER.with(|h| h.borrow().clone());
    match handler {
        Some(h) => {
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| h(&report))) {
                drop(again);
                exit_after_panic();
            }
        }
        None if crate::process::standalone_panic(&report) => {}
        None => exit_after_panic(),
    }
}

fn exit_after_panic() -> ! {
    let who = NAME.with(|n| n.borrow().clone());
    settings::log(&format!(
        "worker[{who}:{}] exits with status {PANIC_EXIT_STATUS} after a panic",
        std::process::id()
    ));
    std::process::exit(PANIC_EXIT_STATUS)
}

/// Runs user code; a panic is reported and handled instead of unwinding into the framework.
pub(crate) fn guard<R>(f: impl FnOnce() -> R) -> Option<R> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            caught(payload);
            None
        }
    }
}
