//! The next run of a schedule in a time zone: walks local wall-clock fields forward, jumping
//! over whole months, days, hours and minutes that cannot match.
//!
//! Daylight saving time: a wall-clock time skipped by a spring-forward change does not run that
//! day; one repeated by a fall-back change runs in both occurrences.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::civil::{civil_from_days, days_from_civil, weekday};
use crate::expr::{Schedule, next_bit};
use crate::tz::TimeZone;

/// How far ahead a schedule is searched: long enough for `0 0 0 29 2 *` across a century's
/// missing leap day (2100 → 2104).
const HORIZON_SECS: i64 = 9 * 366 * 86400;

impl Schedule {
    /// The first run strictly after `after` (seconds since the epoch), in `tz`; `None` if the
    /// schedule never runs (`0 0 0 31 2 *`).
    pub fn next_after_secs(&self, tz: &TimeZone, after: i64) -> Option<i64> {
        // Far beyond any calendar: no run (and no overflow adding offsets).
        if after.unsigned_abs() > 1 << 52 {
            return None;
        }
        let mut t = after + 1;
        let end = after.saturating_add(HORIZON_SECS);
        while t <= end {
            let local = t + i64::from(tz.offset_at(t));
            let days = local.div_euclid(86400);
            let sod = local.rem_euclid(86400) as u32;
            let (y, m, d) = civil_from_days(days);
            let (h, mi, s) = (sod / 3600, sod / 60 % 60, sod % 60);
            let to_next_day = i64::from(86400 - sod);
            if self.months & (1 << m) == 0 {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                t += (days_from_civil(ny, nm, 1) - days) * 86400 - i64::from(sod);
                continue;
            }
            if !self.day_matches(d, weekday(days)) {
                t += to_next_day;
                continue;
            }
            match next_bit(self.hours, h) {
                None => {
                    t += to_next_day;
                    continue;
                }
                Some(nh) if nh > h => {
                    t += i64::from((nh - h) * 3600 - mi * 60 - s);
                    continue;
                }
                _ => {}
            }
            match next_bit(self.minutes, mi) {
                None => {
                    t += i64::from(3600 - mi * 60 - s);
                    continue;
                }
                Some(nm) if nm > mi => {
                    t += i64::from((nm - mi) * 60 - s);
                    continue;
                }
                _ => {}
            }
            match next_bit(self.seconds, s) {
                None => t += i64::from(60 - s),
                Some(ns) if ns > s => t += i64::from(ns - s),
                _ => return Some(t),
            }
        }
        None
    }

    /// The first run strictly after `after`, in `tz`.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use workerman_crontab::{Schedule, TimeZone};
    ///
    /// let every_5s: Schedule = "*/5 * * * * *".parse().unwrap();
    /// let t = UNIX_EPOCH + Duration::from_secs(1_800_000_002);
    /// assert_eq!(every_5s.next_after(&TimeZone::utc(), t), Some(UNIX_EPOCH + Duration::from_secs(1_800_000_005)));
    /// ```
    pub fn next_after(&self, tz: &TimeZone, after: SystemTime) -> Option<SystemTime> {
        let secs = match after.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
        };
        let next = self.next_after_secs(tz, secs)?;
        Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(next).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
        days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s
    }

    fn next(expr: &str, tz: &TimeZone, after: i64) -> Option<i64> {
        Schedule::parse(expr).unwrap().next_after_secs(tz, after)
    }

    #[test]
    fn every_field_kind_in_utc() {
        let utc = TimeZone::utc();
        let t = at(2026, 11, 30, 14, 5, 7); // a Monday
        assert_eq!(next("* * * * * *", &utc, t), Some(t + 1));
        assert_eq!(next("*/5 * * * * *", &utc, t), Some(at(2026, 11, 30, 14, 5, 10)));
        assert_eq!(next("0 * * * * *", &utc, t), Some(at(2026, 11, 30, 14, 6, 0)));
        assert_eq!(next("* * * * *", &utc, t), Some(at(2026, 11, 30, 14, 6, 0)));
        assert_eq!(next("30 4 * * *", &utc, t), Some(at(2026, 12, 1, 4, 30, 0)));
        assert_eq!(next("0 0 12 * * SUN", &utc, t), Some(at(2026, 12, 6, 12, 0, 0)));
        assert_eq!(next("0 0 0 1 JAN *", &utc, t), Some(at(2027, 1, 1, 0, 0, 0)));
        assert_eq!(next("0 0 0 29 2 *", &utc, t), Some(at(2028, 2, 29, 0, 0, 0)));
        assert_eq!(
            next("0 0 0 29 2 *", &utc, at(2096, 3, 1, 0, 0, 0)),
            Some(at(2104, 2, 29, 0, 0, 0))
        );
        assert_eq!(next("0 0 0 31 2 *", &utc, t), None);
        assert_eq!(next("59 59 23 31 12 *", &utc, t), Some(at(2026, 12, 31, 23, 59, 59)));
        // The current second never runs again.
        let s = at(2026, 11, 30, 14, 5, 10);
        assert_eq!(next("*/5 * * * * *", &utc, s), Some(s + 5));
    }

    #[test]
    fn wall_clock_in_a_zone_and_across_dst() {
        let plus8 = TimeZone::fixed(8 * 3600);
        // 09:00 in UTC+8 is 01:00 UTC.
        assert_eq!(
            next("0 0 9 * * *", &plus8, at(2026, 11, 30, 2, 0, 0)),
            Some(at(2026, 12, 1, 1, 0, 0))
        );
        let Ok(berlin) = TimeZone::named("Europe/Berlin") else {
            println!("skipped: no tz database");
            return;
        };
        // Summer: 09:00 CEST = 07:00 UTC; winter: 08:00 UTC.
        assert_eq!(
            next("0 0 9 * * *", &berlin, at(2026, 7, 1, 0, 0, 0)),
            Some(at(2026, 7, 1, 7, 0, 0))
        );
        assert_eq!(
            next("0 0 9 * * *", &berlin, at(2026, 12, 1, 0, 0, 0)),
            Some(at(2026, 12, 1, 8, 0, 0))
        );
        // 2026-03-29 02:30 does not exist in Berlin: that day is skipped.
        assert_eq!(
            next("0 30 2 * * *", &berlin, at(2026, 3, 28, 12, 0, 0)),
            Some(at(2026, 3, 30, 0, 30, 0))
        );
        // 2026-10-25 02:30 happens twice: both run.
        let first = next("0 30 2 * * *", &berlin, at(2026, 10, 24, 12, 0, 0)).unwrap();
        assert_eq!(first, at(2026, 10, 25, 0, 30, 0));
        assert_eq!(next("0 30 2 * * *", &berlin, first), Some(at(2026, 10, 25, 1, 30, 0)));
    }
}
