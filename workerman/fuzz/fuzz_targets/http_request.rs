//! Feeds arbitrary bytes, cut at an arbitrary point, through the `http` protocol exactly as a
//! connection does; it must never panic, and cutting the stream must not change the outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::{Http, testing};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = (cut as usize).min(body.len());
    let (a, b) = body.split_at(cut);
    let max = 4096;
    let p = Http::default();
    let got = testing::feed(&p, &[a, b], max);
    let whole = testing::feed(&p, &[body], max);
    assert_eq!(got.is_ok(), whole.is_ok());
    if let (Ok(got), Ok(whole)) = (got, whole) {
        assert_eq!(got.len(), whole.len());
        for (x, y) in got.iter().zip(&whole) {
            assert_eq!((x.method(), x.uri(), x.raw_body()), (y.method(), y.uri(), y.raw_body()));
            // The lazy parts never panic either.
            let _ = (x.query(), x.cookies(), x.post_fields(), x.files().len(), x.host(true));
        }
    }
});
