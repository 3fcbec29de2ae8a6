//! Feeds arbitrary bytes, cut at arbitrary points, through the `text` protocol exactly as a
//! connection does; it must never panic, and must agree with a plain line split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::{Text, testing};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = (cut as usize).min(body.len());
    let (a, b) = body.split_at(cut);
    let max = 64;
    let got = testing::feed(&Text, &[a, b], max);
    let whole = testing::feed(&Text, &[body], max);
    // Splitting the stream never changes the outcome.
    assert_eq!(got.is_ok(), whole.is_ok());
    if let (Ok(got), Ok(whole)) = (got, whole) {
        assert_eq!(got, whole);
        assert!(got.iter().all(|l| !l.ends_with('\n') && !l.ends_with('\r')));
    }
});
