//! Feeds arbitrary bytes to the PHP `unserialize` decoder: it must never panic, and whatever it
//! accepts must round-trip: serialize(unserialize(x)) decodes again to a value with the same
//! encoding (compared as bytes, so NAN counts as equal to itself).
#![no_main]

use libfuzzer_sys::fuzz_target;
use php_serialize::{Options, serialize, unserialize, unserialize_with};

fuzz_target!(|data: &[u8]| {
    let strict = Options {
        strict: true,
        ..Options::default()
    };
    let lenient = unserialize(data);
    let exact = unserialize_with(data, strict);
    if exact.is_ok() {
        assert!(lenient.is_ok(), "strict accepts only what lenient accepts");
    }
    if let Ok(v) = lenient {
        let once = serialize(&v);
        let again = unserialize_with(&once, strict).expect("our own output decodes strictly");
        assert_eq!(serialize(&again), once);
        // The serde bridge must also survive any decoded value.
        let _ = php_serialize::from_value::<php_serialize::Value>(v);
    }
});
