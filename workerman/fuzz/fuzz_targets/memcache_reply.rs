//! Arbitrary bytes as memcache replies: never a panic; a reply parsed from a prefix is parsed the
//! same from the whole buffer, and never claims more bytes than there are.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman_recipes::memcache::parse_reply;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((reply, n))) = parse_reply(data) {
        assert!(n <= data.len());
        assert_eq!(parse_reply(&data[..n]).ok().flatten(), Some((reply, n)));
    }
});
