//! Feeds arbitrary query strings to the PHP-style nested field parser: never a panic, never
//! deeper than MAX_FORM_DEPTH, and every top-level key free of `.` and ` ` (PHP's mangling).
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::http::{FormValue, MAX_FORM_DEPTH};

fn depth(v: &FormValue) -> usize {
    match v {
        FormValue::Value(_) => 0,
        FormValue::Array(a) => 1 + a.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
    }
}

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(data).into_owned().collect();
    let tree = FormValue::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert!(depth(&tree) <= MAX_FORM_DEPTH + 1);
    for (k, _) in tree.as_array().expect("the root is an array") {
        assert!(!k.is_empty() && !k.contains(['.', ' ']));
    }
});
