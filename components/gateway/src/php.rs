//! PHP semantics the wire depends on: array keys, `empty()`, scalar-to-string, and
//! `array_replace_recursive` for session updates.

use bytes::Bytes;
use php_serialize::{Array, Key, Value};

/// PHP's `empty()` of a string key: `""` and `"0"`.
pub(crate) fn is_empty_key(s: &str) -> bool {
    s.is_empty() || s == "0"
}

/// A uid or group name as PHP would store it as an array key: a canonical decimal integer
/// becomes an int.
pub(crate) fn key(s: &str) -> Key {
    match s.parse::<i64>() {
        Ok(i) if i.to_string() == s => Key::Int(i),
        _ => Key::Bytes(s.as_bytes().to_vec()),
    }
}

/// [`key`] as a value (a list element).
pub(crate) fn key_value(s: &str) -> Value {
    match key(s) {
        Key::Int(i) => Value::Int(i),
        Key::Bytes(b) => Value::Bytes(b),
    }
}

/// The string a scalar becomes in PHP (`(string)$v`); `None` for null and arrays.
pub(crate) fn scalar_bytes(v: &Value) -> Option<Bytes> {
    match v {
        Value::Bytes(b) => Some(Bytes::from(b.clone())),
        Value::Int(i) => Some(Bytes::from(i.to_string())),
        Value::Float(f) => Some(Bytes::from(format_float(*f))),
        Value::Bool(true) => Some(Bytes::from_static(b"1")),
        Value::Bool(false) => Some(Bytes::new()),
        Value::Null | Value::Array(_) => None,
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// `array_replace_recursive(unserialize(old), unserialize(new))`, serialized; `None` if either
/// is not an array.
pub(crate) fn merge_sessions(old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    let Value::Array(mut a) = php_serialize::unserialize(old).ok()? else {
        return None;
    };
    let Value::Array(b) = php_serialize::unserialize(new).ok()? else {
        return None;
    };
    replace_recursive(&mut a, b);
    Some(php_serialize::serialize(&Value::Array(a)))
}

/// PHP's `array_replace_recursive` in place.
pub(crate) fn replace_recursive(base: &mut Array, with: Array) {
    for (k, v) in with.iter() {
        let merged = match (base.get(k), v) {
            (Some(Value::Array(old)), Value::Array(new)) => {
                let mut old = old.clone();
                replace_recursive(&mut old, new.clone());
                Value::Array(old)
            }
            _ => v.clone(),
        };
        base.insert(k.clone(), merged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_merge() {
        assert_eq!(key("12"), Key::Int(12));
        assert_eq!(key("012"), Key::Bytes(b"012".to_vec()));
        assert!(is_empty_key("0") && is_empty_key("") && !is_empty_key("00"));
        let merged = merge_sessions(
            br#"a:2:{s:1:"a";i:1;s:1:"n";a:1:{s:1:"x";i:1;}}"#,
            br#"a:2:{s:1:"b";i:2;s:1:"n";a:1:{s:1:"y";i:2;}}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(merged).unwrap(),
            r#"a:3:{s:1:"a";i:1;s:1:"n";a:2:{s:1:"x";i:1;s:1:"y";i:2;}s:1:"b";i:2;}"#
        );
    }
}
