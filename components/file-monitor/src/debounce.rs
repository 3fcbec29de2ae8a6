//! When a burst of changes is over: quiet for `quiet` (300 ms), or at most `max_delay` (2 s)
//! after its first change. Pure time arithmetic, no I/O.

use std::time::{Duration, Instant};

/// Default quiet period: 300 ms without a change ends a burst.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(300);
/// Default longest delay: a burst is acted on at most 2 s after its first change.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(2);

/// One burst of changes.
#[derive(Clone, Copy, Debug)]
pub struct Debounce {
    quiet: Duration,
    max_delay: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Debounce {
    /// A debounce with the given quiet period and longest delay.
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Debounce {
            quiet,
            max_delay,
            first: None,
            last: None,
        }
    }

    /// Records a change seen at `now`.
    pub fn change(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// When the current burst is due, or `None` when no change is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.quiet).min(first + self.max_delay))
    }

    /// Ends the burst (after acting on it).
    pub fn reset(&mut self) {
        self.first = None;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_period_moves_with_each_change_up_to_the_maximum() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Debounce::new(ms(300), ms(2000));
        assert_eq!(d.deadline(), None);
        d.change(t0);
        assert_eq!(d.deadline(), Some(t0 + ms(300)));
        d.change(t0 + ms(200));
        assert_eq!(d.deadline(), Some(t0 + ms(500)));
        // Changes every 200 ms forever: still due 2 s after the first.
        for i in 2..20 {
            d.change(t0 + ms(200 * i));
        }
        assert_eq!(d.deadline(), Some(t0 + ms(2000)));
        d.reset();
        assert_eq!(d.deadline(), None);
    }
}
