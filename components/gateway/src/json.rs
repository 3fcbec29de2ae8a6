//! JSON as PHP's `json_encode` writes it (default flags): keys in the order given, `/` as `\/`,
//! non-ASCII as `\uXXXX`. What the PHP chat demo and GatewayClient callers expect byte for byte.

use serde_json::Value;

/// Encodes `v` like PHP's `json_encode($v)`.
///
/// ```
/// use serde_json::json;
/// assert_eq!(workerman_gateway::json::encode(&json!("a/é")), r#""a\/\u00e9""#);
/// ```
pub fn encode(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Encodes an object with its fields in this order.
///
/// ```
/// use serde_json::json;
/// let s = workerman_gateway::json::object(&[("type", json!("ping")), ("n", json!(1))]);
/// assert_eq!(s, r#"{"type":"ping","n":1}"#);
/// ```
pub fn object(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(k, &mut out);
        out.push(':');
        write(v, &mut out);
    }
    out.push('}');
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, out);
                out.push(':');
                write(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
