//! Feeds arbitrary bytes, cut at arbitrary points, through the `line` protocol exactly as a
//! connection does; it must never panic, splitting must not change the outcome, and every line
//! is the input up to a `\n`, without its line ending.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::{Line, testing};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = (cut as usize).min(body.len());
    let (a, b) = body.split_at(cut);
    let max = 64;
    let got = testing::feed(&Line, &[a, b], max);
    let whole = testing::feed(&Line, &[body], max);
    assert_eq!(got.is_ok(), whole.is_ok());
    if let (Ok(got), Ok(whole)) = (got, whole) {
        assert_eq!(got, whole);
        let mut rest = body;
        for line in &got {
            let nl = rest.iter().position(|&c| c == b'\n').expect("a line ends with \\n");
            let raw = &rest[..nl];
            assert!(raw.starts_with(line));
            assert!(raw[line.len()..].iter().all(|&c| c == b'\r' || c == b'\n'));
            assert!(!line.ends_with(b"\r") && !line.ends_with(b"\n"));
            rest = &rest[nl + 1..];
        }
    }
});
