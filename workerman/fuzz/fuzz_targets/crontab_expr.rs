//! Arbitrary text as a cron expression: parsing never panics, and a parsed schedule's next run is
//! strictly later than the time asked about and is a run of the schedule.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman_crontab::{Schedule, TimeZone};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(schedule) = Schedule::parse(text) else { return };
    let after = i64::from(u32::from_le_bytes(*head));
    let tz = TimeZone::fixed(i32::from(head[0] as i8) * 900);
    if let Some(next) = schedule.next_after_secs(&tz, after) {
        assert!(next > after);
        // Asking again just before it gives the same run.
        assert_eq!(schedule.next_after_secs(&tz, next - 1), Some(next));
    }
});
