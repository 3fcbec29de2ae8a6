//! Time zones from the system's tz database (`/usr/share/zoneinfo`, or `$TZDIR`), read once: the
//! same data the C library uses, without compiling a copy of it into every binary.
//!
//! A zone file (TZif, RFC 8536) lists UTC transition times and the offset in force after each; its
//! footer, a POSIX TZ rule such as `CET-1CEST,M3.5.0,M10.5.0/3`, gives the offsets after the last
//! listed transition.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A time zone: UTC, a fixed offset, or a zone of the tz database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone {
    name: String,
    rules: Arc<Rules>,
}

#[derive(Debug, PartialEq, Eq)]
struct Rules {
    /// UTC transition times, ascending, with the offset (seconds east of UTC) from each on.
    transitions: Vec<(i64, i32)>,
    /// Offset before the first transition.
    initial: i32,
    /// Offsets after the last transition.
    footer: Option<Posix>,
}

/// Why a time zone could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TzError(pub String);

impl fmt::Display for TzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TzError {}

impl TimeZone {
    /// UTC.
    pub fn utc() -> TimeZone {
        TimeZone::fixed_named("UTC".into(), 0)
    }

    /// A fixed offset in seconds east of UTC (`8 * 3600` for UTC+8).
    pub fn fixed(offset_secs: i32) -> TimeZone {
        let sign = if offset_secs < 0 { '-' } else { '+' };
        let a = offset_secs.unsigned_abs();
        TimeZone::fixed_named(format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60), offset_secs)
    }

    fn fixed_named(name: String, offset: i32) -> TimeZone {
        TimeZone {
            name,
            rules: Arc::new(Rules {
                transitions: Vec::new(),
                initial: offset,
                footer: None,
            }),
        }
    }

    /// A zone by name: `UTC`, `+08:00` / `-0530`, or a tz database name such as `Asia/Shanghai`
    /// (read from `$TZDIR` or `/usr/share/zoneinfo`; install the `tzdata` package if missing).
    pub fn named(name: &str) -> Result<TimeZone, TzError> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("UTC") || name == "Z" {
            return Ok(TimeZone::utc());
        }
        if let Some(offset) = parse_fixed(name) {
            return Ok(TimeZone::fixed(offset));
        }
        if name.is_empty() || name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(TzError(format!("`{name}` is not a time zone name")));
        }
        let dir = std::env::var_os("TZDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/usr/share/zoneinfo".into());
        TimeZone::from_file(name, &dir.join(name))
    }

    /// The process's local zone: `$TZ` (a zone name, or a POSIX rule), else `/etc/localtime`, else
    /// UTC.
    pub fn local() -> TimeZone {
        if let Ok(tz) = std::env::var("TZ") {
            let tz = tz.strip_prefix(':').unwrap_or(&tz);
            if let Ok(zone) = TimeZone::named(tz) {
                return zone;
            }
            if let Some(rule) = Posix::parse(tz) {
                return TimeZone {
                    name: tz.to_string(),
                    rules: Arc::new(Rules {
                        transitions: Vec::new(),
                        initial: rule.std,
                        footer: Some(rule),
                    }),
                };
            }
        }
        TimeZone::from_file("localtime", Path::new("/etc/localtime")).unwrap_or_else(|_| TimeZone::utc())
    }

    fn from_file(name: &str, path: &Path) -> Result<TimeZone, TzError> {
        let data = std::fs::read(path)
            .map_err(|e| TzError(format!("unknown time zone `{name}` ({}: {e})", path.display())))?;
        TimeZone::from_tzif(name, &data).map_err(|_| TzError(format!("{} is not a TZif file", path.display())))
    }

    /// A zone from the bytes of a TZif file (RFC 8536), e.g. one shipped with the application.
    pub fn from_tzif(name: &str, data: &[u8]) -> Result<TimeZone, TzError> {
        let rules = parse_tzif(data).ok_or_else(|| TzError(format!("`{name}`: not a TZif file")))?;
        Ok(TimeZone {
            name: name.to_string(),
            rules: Arc::new(rules),
        })
    }

    /// The zone's name as given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The offset from UTC (seconds east) in force at `utc` (seconds since the epoch).
    pub fn offset_at(&self, utc: i64) -> i32 {
        let r = &self.rules;
        let i = r.transitions.partition_point(|&(t, _)| t <= utc);
        if i == r.transitions.len()
            && let Some(rule) = &r.footer
        {
            return rule.offset_at(utc);
        }
        match i {
            0 => r.initial,
            i => r.transitions[i - 1].1,
        }
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `+08:00`, `-0530`, `+8`: seconds east of UTC.
fn parse_fixed(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = if digits.len() <= 2 {
        (digits.parse::<i32>().ok()?, 0)
    } else {
        let (h, m) = digits.split_at(digits.len() - 2);
        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
    };
    (h <= 24 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn be32(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?)))
}

fn be64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses a TZif file (version 1, or the 64-bit data of versions 2+ and its footer).
fn parse_tzif(data: &[u8]) -> Option<Rules> {
    let header = |at: usize| -> Option<(u8, [usize; 6])> {
        if data.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut counts = [0usize; 6];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = usize::try_from(be32(data, at + 20 + i * 4)?).ok()?;
        }
        Some((*data.get(at + 4)?, counts))
    };
    let (version, [isut, isstd, leap, time, types, chars]) = header(0)?;
    let v1_len = time * 5 + types * 6 + chars + leap * 8 + isstd + isut;
    let (start, counts, width) = if version >= b'2' {
        let at = 44 + v1_len;
        (at, header(at)?.1, 8)
    } else {
        (0, [isut, isstd, leap, time, types, chars], 4)
    };
    let [isut, isstd, leap, time, types, chars] = counts;
    let times_at = start + 44;
    let idx_at = times_at + time * width;
    let types_at = idx_at + time;
    let offset_of = |t: usize| -> Option<i32> { i32::try_from(be32(data, types_at + t * 6)?).ok() };
    if types == 0 {
        return None;
    }
    // The counts come from the file: check that what they describe is really there before
    // allocating for it (a forged header could otherwise ask for gigabytes).
    // (Each count is below 2^31, so none of these sums can overflow a 64-bit usize.)
    if types_at + types * 6 > data.len() {
        return None;
    }
    let mut transitions = Vec::with_capacity(time);
    for i in 0..time {
        let at = times_at + i * width;
        let t = if width == 8 { be64(data, at)? } else { be32(data, at)? };
        let ty = usize::from(*data.get(idx_at + i)?);
        if ty >= types {
            return None;
        }
        transitions.push((t, offset_of(ty)?));
    }
    // RFC 8536: before the first transition, the first non-DST type (type 0 in practice).
    let initial = (0..types)
        .find(|&t| data.get(types_at + t * 6 + 4) == Some(&0))
        .map_or_else(|| offset_of(0), offset_of)?;
    let footer = if version >= b'2' {
        let end = types_at + types * 6 + chars + leap * (width + 4) + isstd + isut;
        let rest = data.get(end..)?;
        let text = std::str::from_utf8(rest).ok()?.trim_matches('\n');
        Posix::parse(text)
    } else {
        None
    };
    Some(Rules {
        transitions,
        initial,
        footer,
    })
}

/// A POSIX TZ rule: `std offset [dst [offset] [,start[/time],end[/time]]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Posix {
    /// Standard offset, seconds east of UTC.
    std: i32,
    /// Daylight saving offset and the rules for its start and end (local wall time).
    dst: Option<(i32, DayRule, i32, DayRule, i32)>,
}

/// `Mm.w.d` (week w of month m, day d, 0 = Sunday; week 5 is the last), `Jn` (1-365, no leap
/// day) or `n` (0-365).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayRule {
    MonthWeekDay(u32, u32, u32),
    Julian1(u32),
    Julian0(u32),
}

impl Posix {
    fn parse(s: &str) -> Option<Posix> {
        let mut p = s;
        skip_name(&mut p)?;
        let std = -parse_hms(&mut p)?;
        if p.is_empty() {
            return Some(Posix { std, dst: None });
        }
        skip_name(&mut p)?;
        let dst_off = if p.starts_with(',') || p.is_empty() {
            std + 3600
        } else {
            -parse_hms(&mut p)?
        };
        // Without rules: the US rules of POSIX's default.
        if p.is_empty() {
            let (a, b) = (DayRule::MonthWeekDay(3, 2, 0), DayRule::MonthWeekDay(11, 1, 0));
            return Some(Posix {
                std,
                dst: Some((dst_off, a, 7200, b, 7200)),
            });
        }
        p = p.strip_prefix(',')?;
        let (start, start_t) = parse_rule(&mut p)?;
        p = p.strip_prefix(',')?;
        let (end, end_t) = parse_rule(&mut p)?;
        p.is_empty().then_some(Posix {
            std,
            dst: Some((dst_off, start, start_t, end, end_t)),
        })
    }

    fn offset_at(&self, utc: i64) -> i32 {
        let Some((dst, start, start_t, end, end_t)) = self.dst else {
            return self.std;
        };
        let year = crate::civil::civil_from_days((utc + i64::from(self.std)).div_euclid(86400)).0;
        // Start is given in standard time, end in daylight time.
        let on = start.day(year) * 86400 + i64::from(start_t) - i64::from(self.std);
        let off = end.day(year) * 86400 + i64::from(end_t) - i64::from(dst);
        let in_dst = if on < off {
            on <= utc && utc < off
        } else {
            !(off <= utc && utc < on)
        };
        if in_dst { dst } else { self.std }
    }
}

impl DayRule {
    /// Days since the epoch of the rule's day in `year`.
    fn day(self, year: i64) -> i64 {
        use crate::civil::{days_from_civil, is_leap, weekday};
        let jan1 = days_from_civil(year, 1, 1);
        match self {
            DayRule::Julian1(n) => {
                let n = i64::from(n);
                jan1 + n - 1 + i64::from(is_leap(year) && n >= 60)
            }
            DayRule::Julian0(n) => jan1 + i64::from(n),
            DayRule::MonthWeekDay(m, w, d) => {
                let first = days_from_civil(year, m, 1);
                let mut day = first + i64::from((d + 7 - weekday(first)) % 7) + i64::from(w.saturating_sub(1)) * 7;
                let next_month = if m == 12 {
                    days_from_civil(year + 1, 1, 1)
                } else {
                    days_from_civil(year, m + 1, 1)
                };
                while day >= next_month {
                    day -= 7;
                }
                day
            }
        }
    }
}

fn skip_name(p: &mut &str) -> Option<()> {
    if let Some(rest) = p.strip_prefix('<') {
        let end = rest.find('>')?;
        *p = &rest[end + 1..];
        return Some(());
    }
    let n = p.bytes().take_while(u8::is_ascii_alphabetic).count();
    (n >= 3).then(|| *p = &p[n..])
}

fn take_number(p: &mut &str) -> Option<i64> {
    let n = p.bytes().take_while(u8::is_ascii_digit).count();
    // No field of a TZ rule has more than 3 digits (hours ≤ 167, days ≤ 365); longer numbers
    // are refused here so the arithmetic on them cannot overflow.
    if n > 4 {
        return None;
    }
    let v = p.get(..n)?.parse().ok()?;
    *p = &p[n..];
    Some(v)
}

/// `[+-]hh[:mm[:ss]]` as seconds (POSIX sign: positive is west of UTC).
fn parse_hms(p: &mut &str) -> Option<i32> {
    let sign = match p.as_bytes().first() {
        Some(b'-') => {
            *p = &p[1..];
            -1
        }
        Some(b'+') => {
            *p = &p[1..];
            1
        }
        _ => 1,
    };
    let mut secs = take_number(p)? * 3600;
    for unit in [60, 1] {
        match p.strip_prefix(':') {
            Some(rest) => {
                *p = rest;
                secs += take_number(p)? * unit;
            }
            None => break,
        }
    }
    i32::try_from(sign * secs).ok().filter(|s| s.abs() <= 168 * 3600)
}

fn parse_rule(p: &mut &str) -> Option<(DayRule, i32)> {
    let rule = if let Some(rest) = p.strip_prefix('M') {
        *p = rest;
        let m = take_number(p)?;
        *p = p.strip_prefix('.')?;
        let w = take_number(p)?;
        *p = p.strip_prefix('.')?;
        let d = take_number(p)?;
        if !(1..=12).contains(&m) || !(1..=5).contains(&w) || d > 6 {
            return None;
        }
        DayRule::MonthWeekDay(m as u32, w as u32, d as u32)
    } else if let Some(rest) = p.strip_prefix('J') {
        *p = rest;
        let n = take_number(p)?;
        if !(1..=365).contains(&n) {
            return None;
        }
        DayRule::Julian1(n as u32)
    } else {
        let n = take_number(p)?;
        if n > 365 {
            return None;
        }
        DayRule::Julian0(n as u32)
    };
    let time = match p.strip_prefix('/') {
        Some(rest) => {
            *p = rest;
            parse_hms(p)?
        }
        None => 7200,
    };
    Some((rule, time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::civil::days_from_civil;

    fn utc(y: i64, m: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60
    }

    #[test]
    fn a_forged_header_is_refused_without_allocating_for_its_counts() {
        // Found by the `tzif` fuzz target: the header promised ~2^31 transitions in 48 bytes and
        // the parser reserved 16 GiB for them.
        let forged: &[u8] = b"TZif\x00\x00\x00\x00A@\x00\x00if\x00e\x00\x00\x00`\x00\x00A\x00\n\x00f\x00\x00\x00\x00A@\x00TZif\x00~+\x00\x00\x00\x00\xf6\x00";
        assert!(TimeZone::from_tzif("forged", forged).is_err());
    }

    #[test]
    fn huge_numbers_in_a_tz_rule_are_refused() {
        // Found by the `tzif` fuzz target: an hour field of 19 digits overflowed `* 3600`.
        assert!(Posix::parse("AAA9999999999999999999").is_none());
        assert!(Posix::parse("AAA-1BBB,M3.5.0/9999999999999999999,M10.5.0").is_none());
    }

    #[test]
    fn fixed_offsets_and_utc() {
        assert_eq!(TimeZone::named("UTC").unwrap().offset_at(0), 0);
        assert_eq!(TimeZone::named("+08:00").unwrap().offset_at(0), 8 * 3600);
        assert_eq!(TimeZone::named("-0530").unwrap().offset_at(0), -(5 * 3600 + 1800));
        assert_eq!(TimeZone::named("+8").unwrap().name(), "+08:00");
        assert!(TimeZone::named("../etc/passwd").is_err());
        assert!(TimeZone::named("/etc/passwd").is_err());
        assert!(
            TimeZone::named("No/Such_Zone")
                .unwrap_err()
                .to_string()
                .contains("unknown time zone")
        );
    }

    #[test]
    fn posix_rules_switch_on_the_right_days() {
        let cet = Posix::parse("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
        // 2030: last Sunday of March is the 31st, of October the 27th; switch at 01:00 UTC.
        assert_eq!(cet.offset_at(utc(2030, 3, 31, 0, 59)), 3600);
        assert_eq!(cet.offset_at(utc(2030, 3, 31, 1, 0)), 7200);
        assert_eq!(cet.offset_at(utc(2030, 10, 27, 0, 59)), 7200);
        assert_eq!(cet.offset_at(utc(2030, 10, 27, 1, 0)), 3600);
        // Southern hemisphere: DST over new year.
        let nz = Posix::parse("NZST-12NZDT,M9.5.0,M4.1.0/3").unwrap();
        assert_eq!(nz.offset_at(utc(2030, 1, 15, 0, 0)), 13 * 3600);
        assert_eq!(nz.offset_at(utc(2030, 7, 15, 0, 0)), 12 * 3600);
        let quoted = Posix::parse("<+0330>-3:30").unwrap();
        assert_eq!(quoted.offset_at(0), 3 * 3600 + 1800);
        assert_eq!(
            Posix::parse("EST5EDT").unwrap().offset_at(utc(2030, 7, 1, 0, 0)),
            -4 * 3600
        );
        for bad in [
            "",
            "C",
            "CET",
            "CET-1CEST,M13.1.0,M10.5.0",
            "CET-1CEST,M3.5.0",
            "CET-1CEST,J0,J1",
        ] {
            assert_eq!(Posix::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn zone_files_from_the_system_database() {
        let Ok(berlin) = TimeZone::named("Europe/Berlin") else {
            println!("skipped: no /usr/share/zoneinfo/Europe/Berlin (tzdata not installed)");
            return;
        };
        assert_eq!(berlin.offset_at(utc(2024, 1, 15, 12, 0)), 3600);
        assert_eq!(berlin.offset_at(utc(2024, 7, 15, 12, 0)), 7200);
        // Past the transitions listed in the file: the footer rule.
        assert_eq!(berlin.offset_at(utc(2100, 7, 15, 12, 0)), 7200);
        assert_eq!(berlin.offset_at(utc(2100, 12, 15, 12, 0)), 3600);
        // Before standard time (local mean time, +0:53:28).
        assert_eq!(berlin.offset_at(utc(1850, 1, 1, 0, 0)), 3208);
        let kolkata = TimeZone::named("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.offset_at(utc(2024, 1, 1, 0, 0)), 19800);
    }

    #[test]
    fn tzif_parser_refuses_garbage_without_panicking() {
        assert_eq!(parse_tzif(b""), None);
        assert_eq!(parse_tzif(b"TZif2"), None);
        let mut data = b"TZif2".to_vec();
        data.resize(44, 0);
        data[36..40].copy_from_slice(&1u32.to_be_bytes()); // typecnt = 1, nothing follows
        assert_eq!(parse_tzif(&data), None);
        if let Ok(real) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            for cut in (0..real.len()).step_by(7) {
                let _ = parse_tzif(&real[..cut]);
            }
        }
    }
}
