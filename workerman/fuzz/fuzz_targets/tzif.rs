//! Arbitrary bytes as a TZif time zone file: refused or read, and asking it for offsets at any
//! time never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman_crontab::TimeZone;

fuzz_target!(|data: &[u8]| {
    if let Ok(tz) = TimeZone::from_tzif("fuzz", data) {
        for t in [i64::MIN / 2, -1, 0, 1_800_000_000, i64::MAX / 2] {
            let _ = tz.offset_at(t);
        }
    }
});
