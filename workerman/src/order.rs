//! Process control as data: the orders one process gives another by signal — the CLI to the
//! master (`./app stop -g`), the master to its worker processes, a worker process to its master
//! (`Worker::reload`). Which signal carries which order is written here and nowhere else.
//!
//! | signal | order | sent by |
//! |---|---|---|
//! | SIGINT (SIGHUP is read the same way) | stop | `stop`; the master to its processes |
//! | SIGTERM | graceful stop | `stop -g`; the master to its processes |
//! | SIGUSR1 | reload | `reload`; the master to the process being replaced; `Worker::reload` |
//! | SIGQUIT | graceful reload | `reload -g`; as above |
//! | SIGUSR2 | status | `status` (the answers come back over the report channel, see `report.rs`) |
//! | SIGIO | connections | `connections` |

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// What a signal asks of the process receiving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Stop; `graceful` lets connections finish.
    Stop { graceful: bool },
    /// Replace worker processes with the executable on disk; `graceful` lets connections finish.
    Reload { graceful: bool },
    /// Write the status report (the master; a worker process answers over its channel).
    Status,
    /// Write the connections report (likewise).
    Connections,
}

/// Every signal that carries an order. The first signal listed for an order is the one sent.
pub(crate) const SIGNALS: [(Signal, Order); 7] = [
    (Signal::SIGINT, Order::Stop { graceful: false }),
    (Signal::SIGHUP, Order::Stop { graceful: false }),
    (Signal::SIGTERM, Order::Stop { graceful: true }),
    (Signal::SIGUSR1, Order::Reload { graceful: false }),
    (Signal::SIGQUIT, Order::Reload { graceful: true }),
    (Signal::SIGUSR2, Order::Status),
    (Signal::SIGIO, Order::Connections),
];

impl Order {
    /// The signal that carries this order.
    pub fn signal(self) -> Signal {
        SIGNALS
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(s, _)| *s)
            .expect("every order has a signal")
    }

    /// Sends this order to `pid`.
    pub fn send(self, pid: Pid) -> nix::Result<()> {
        kill(pid, self.signal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_signal(sig: Signal) -> Option<Order> {
        SIGNALS.iter().find(|(s, _)| *s == sig).map(|(_, o)| *o)
    }

    #[test]
    fn every_order_round_trips_through_its_signal() {
        for order in [
            Order::Stop { graceful: false },
            Order::Stop { graceful: true },
            Order::Reload { graceful: false },
            Order::Reload { graceful: true },
            Order::Status,
            Order::Connections,
        ] {
            assert_eq!(from_signal(order.signal()), Some(order));
        }
        assert_eq!(from_signal(Signal::SIGHUP), Some(Order::Stop { graceful: false }));
        assert_eq!(from_signal(Signal::SIGCHLD), None);
    }

    #[test]
    fn the_table_lists_each_signal_once() {
        for (i, (a, _)) in SIGNALS.iter().enumerate() {
            assert!(SIGNALS[i + 1..].iter().all(|(b, _)| a != b), "{a} twice");
        }
    }
}
