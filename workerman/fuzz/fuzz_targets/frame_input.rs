//! Feeds arbitrary bytes, cut at arbitrary points, through the `frame` protocol exactly as a
//! connection does; it must never panic, and the split must not change what is delivered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::{Frame, testing};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = (cut as usize).min(body.len());
    let (a, b) = body.split_at(cut);
    let max = 1024;
    let got = testing::feed(&Frame, &[a, b], max);
    let whole = testing::feed(&Frame, &[body], max);
    assert_eq!(got.is_ok(), whole.is_ok());
    if let (Ok(got), Ok(whole)) = (got, whole) {
        assert_eq!(got, whole);
        assert!(got.iter().all(|f| f.len() + 4 <= max));
    }
});
