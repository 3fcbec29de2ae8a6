//! Cron expressions: six fields, seconds first, as Workerman's crontab — or the classic five,
//! which run at second 0.
//!
//! ```text
//!  ┌───────────── second (0-59)        (omit for the 5-field form)
//!  │ ┌─────────── minute (0-59)
//!  │ │ ┌───────── hour (0-23)
//!  │ │ │ ┌─────── day of month (1-31)
//!  │ │ │ │ ┌───── month (1-12 or JAN-DEC)
//!  │ │ │ │ │ ┌─── day of week (0-7 or SUN-SAT; 0 and 7 are Sunday)
//!  * * * * * *
//! ```
//!
//! Each field is `*` (or `?`), a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`, or a
//! comma-separated list of those. When both day fields are restricted, a day matching either one
//! runs (as in Vixie cron).

use std::fmt;
use std::str::FromStr;

/// Why an expression was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    /// The expression.
    pub expr: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad cron expression `{}`: {}", self.expr, self.reason)
    }
}

impl std::error::Error for CronError {}

/// A parsed cron expression: the set of allowed values of each field, as bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub(crate) seconds: u64,
    pub(crate) minutes: u64,
    pub(crate) hours: u64,
    pub(crate) days: u64,
    pub(crate) months: u64,
    pub(crate) weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
    text: String,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
};
const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: MONTHS,
};
const WEEKDAY: Field = Field {
    name: "day-of-week",
    min: 0,
    max: 7,
    names: DAYS,
};

impl Field {
    fn value(&self, s: &str) -> Result<u32, String> {
        if let Some(i) = self.names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            // Month names start at 1, day names at 0: each field's minimum.
            return Ok(i as u32 + self.min);
        }
        let v: u32 = s.parse().map_err(|_| format!("{} `{s}` is not a number", self.name))?;
        if v < self.min || v > self.max {
            return Err(format!("{} {v} is outside {}-{}", self.name, self.min, self.max));
        }
        Ok(v)
    }

    /// The bits of one field, and whether it restricts anything (`*` does not).
    fn parse(&self, text: &str) -> Result<(u64, bool), String> {
        let mut bits = 0u64;
        let mut restricted = false;
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s
                        .parse()
                        .map_err(|_| format!("{} step `{s}` is not a number", self.name))?;
                    if step == 0 {
                        return Err(format!("{} step is 0", self.name));
                    }
                    (r, step)
                }
                None => (item, 1),
            };
            let (lo, hi) = if range == "*" || range == "?" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                (self.value(a)?, self.value(b)?)
            } else {
                let v = self.value(range)?;
                // `a/n` is `a-max/n`.
                (v, if item.contains('/') { self.max } else { v })
            };
            if lo > hi {
                return Err(format!("{} range {lo}-{hi} is backwards", self.name));
            }
            if range != "*" && range != "?" || step != 1 {
                restricted = true;
            }
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v += step;
            }
        }
        Ok((bits, restricted))
    }
}

impl FromStr for Schedule {
    type Err = CronError;

    fn from_str(expr: &str) -> Result<Self, CronError> {
        let err = |reason: String| CronError {
            expr: expr.to_string(),
            reason,
        };
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let (sec, rest) = match parts.len() {
            6 => (SECOND.parse(parts[0]).map_err(err)?.0, &parts[1..]),
            5 => (1, &parts[..]),
            n => return Err(err(format!("{n} fields; expected 6 (seconds first) or 5"))),
        };
        let minutes = MINUTE.parse(rest[0]).map_err(err)?.0;
        let hours = HOUR.parse(rest[1]).map_err(err)?.0;
        let (days, days_restricted) = DAY.parse(rest[2]).map_err(err)?;
        let months = MONTH.parse(rest[3]).map_err(err)?.0;
        let (mut weekdays, weekdays_restricted) = WEEKDAY.parse(rest[4]).map_err(err)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Schedule {
            seconds: sec,
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_restricted,
            weekdays_restricted,
            text: expr.to_string(),
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Schedule {
    /// Parses an expression (same as `expr.parse()`).
    pub fn parse(expr: &str) -> Result<Schedule, CronError> {
        expr.parse()
    }

    /// Whether a day (day of month 1-31, day of week 0-6 with 0 = Sunday) runs.
    pub(crate) fn day_matches(&self, day: u32, weekday: u32) -> bool {
        let dom = self.days & (1 << day) != 0;
        let dow = self.weekdays & (1 << weekday) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }
}

/// The lowest set bit at or above `from`, if any.
pub(crate) fn next_bit(bits: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = bits >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(list: &[u32]) -> u64 {
        list.iter().fold(0, |b, v| b | 1 << v)
    }

    #[test]
    fn six_fields_seconds_first_five_fields_at_second_zero() {
        let s = Schedule::parse("*/15 30 9-17 * * MON-FRI").unwrap();
        assert_eq!(s.seconds, bits(&[0, 15, 30, 45]));
        assert_eq!(s.minutes, bits(&[30]));
        assert_eq!(s.hours, bits(&(9..=17).collect::<Vec<_>>()));
        assert_eq!(s.weekdays, bits(&[1, 2, 3, 4, 5]));
        let s = Schedule::parse("5 4 * * *").unwrap();
        assert_eq!(s.seconds, 1);
        assert_eq!(s.minutes, bits(&[5]));
        assert_eq!(s.hours, bits(&[4]));
    }

    #[test]
    fn names_lists_steps_and_sunday_as_seven() {
        let s = Schedule::parse("0 0 0 1,15 jan-mar/2 sun,7").unwrap();
        assert_eq!(s.days, bits(&[1, 15]));
        assert_eq!(s.months, bits(&[1, 3]));
        assert_eq!(s.weekdays, bits(&[0]));
        let s = Schedule::parse("10/20 * * * * *").unwrap();
        assert_eq!(s.seconds, bits(&[10, 30, 50]));
        let s = Schedule::parse("0 0 12 ? DEC SAT").unwrap();
        assert_eq!(s.months, bits(&[12]));
        assert_eq!(s.weekdays, bits(&[6]));
    }

    #[test]
    fn day_fields_combine_like_vixie_cron() {
        let both = Schedule::parse("0 0 0 13 * FRI").unwrap();
        assert!(both.day_matches(13, 2) && both.day_matches(20, 5) && !both.day_matches(14, 2));
        let dom = Schedule::parse("0 0 0 13 * *").unwrap();
        assert!(dom.day_matches(13, 2) && !dom.day_matches(20, 5));
        let dow = Schedule::parse("0 0 0 * * FRI").unwrap();
        assert!(!dow.day_matches(13, 2) && dow.day_matches(20, 5));
        let stepped = Schedule::parse("0 0 0 */2 * *").unwrap();
        assert!(stepped.day_matches(3, 0) && !stepped.day_matches(2, 0));
    }

    #[test]
    fn bad_expressions_say_why() {
        for (expr, why) in [
            ("* * * *", "4 fields"),
            ("* * * * * * *", "7 fields"),
            ("60 * * * * *", "second 60 is outside 0-59"),
            ("* 24 * * *", "hour 24"),
            ("* * 0 * *", "day-of-month 0"),
            ("* * * 13 *", "month 13"),
            ("* * * * 8", "day-of-week 8"),
            ("*/0 * * * *", "step is 0"),
            ("5-1 * * * *", "backwards"),
            ("x * * * *", "not a number"),
            ("1,,2 * * * *", "not a number"),
            ("* * * FOO *", "not a number"),
        ] {
            let e = Schedule::parse(expr).unwrap_err();
            assert!(e.to_string().contains(why), "{expr}: {e}");
        }
    }

    #[test]
    fn next_bit_finds_the_following_value() {
        let b = bits(&[3, 10]);
        assert_eq!(next_bit(b, 0), Some(3));
        assert_eq!(next_bit(b, 4), Some(10));
        assert_eq!(next_bit(b, 11), None);
        assert_eq!(next_bit(b, 64), None);
    }
}
