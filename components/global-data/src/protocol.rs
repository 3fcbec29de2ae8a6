//! The GlobalData wire (COMPONENTS-WIRE.md §3): requests and replies are PHP `serialize()`
//! bodies inside `frame` packets (u32 big-endian total length, counting itself).
//!
//! ```text
//! request  00 00 00 47  a:3:{s:3:"cmd";s:3:"set";s:3:"key";s:7:"counter";s:5:"value";i:10;}
//! reply    00 00 00 08  b:1;
//! request  00 00 00 4b  a:3:{s:3:"cmd";s:9:"increment";s:3:"key";s:7:"counter";s:4:"step";i:1;}
//! reply    00 00 00 09  i:11;
//! ping     00 00 00 08  ping            (no reply)
//! ```
//! Commands: `get`, `set`, `add`, `increment`, `cas` (`md5` of the serialized old value comes
//! before `key`), `delete`. Our extension: an optional `ttl` entry (seconds) on `set`, `add` and
//! `cas`, which a PHP server ignores and PHP clients never send.

use php_serialize::{Array, Key, Value, serialize};

/// The ping body a PHP client sends every 25 s; ignored, never answered.
pub const PING: &[u8] = b"ping";
/// `b:1;`
pub const TRUE: &[u8] = b"b:1;";
/// `b:0;`
pub const FALSE: &[u8] = b"b:0;";
/// `N;`
pub const NULL: &[u8] = b"N;";
/// `serialize('bad request')`: the reply before closing a connection that sent a bad request.
pub const BAD_REQUEST: &[u8] = b"s:11:\"bad request\";";

/// One decoded request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `get`: the value, or `N;`.
    Get {
        /// The (normalised) key.
        key: Key,
    },
    /// `set`: store, reply `b:1;`.
    Set {
        /// The (normalised) key.
        key: Key,
        /// The value (null when missing).
        value: Value,
        /// Our extension: expire after this many milliseconds.
        ttl_ms: Option<u64>,
    },
    /// `add`: store unless a non-null value is there.
    Add {
        /// The (normalised) key.
        key: Key,
        /// The value.
        value: Value,
        /// Our extension: expire after this many milliseconds.
        ttl_ms: Option<u64>,
    },
    /// `increment`: PHP `+` on the stored value; `b:0;` when absent or null.
    Increment {
        /// The (normalised) key.
        key: Key,
        /// The step (null counts as 0).
        step: Value,
    },
    /// `cas`: store when md5(serialize(current ?? null)) equals `md5`.
    Cas {
        /// The (normalised) key.
        key: Key,
        /// The expected md5 (hex); PHP compares with `===`, so a non-string never matches.
        md5: Option<Vec<u8>>,
        /// The new value.
        value: Value,
        /// Our extension: expire after this many milliseconds.
        ttl_ms: Option<u64>,
    },
    /// `delete`: remove, reply `b:1;`.
    Delete {
        /// The (normalised) key.
        key: Key,
    },
}

/// What a request body asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The `ping` body: no reply.
    Ping,
    /// A command to run.
    Command(Command),
    /// Answer this body and close the connection (bad request / bad cmd), for `reason` (logged).
    Reject {
        /// The reply body sent before closing.
        reply: Vec<u8>,
        /// Why, for the log line.
        reason: String,
    },
}

/// Whether `reply` is a refusal (`bad request`, `bad cmd ...`): the server closes the connection
/// right after sending one, so a client must not send its next request on that connection.
pub fn is_refusal(reply: &[u8]) -> bool {
    reply == BAD_REQUEST || reply.starts_with(b"s:") && reply.windows(7).any(|w| w == b"bad cmd")
}

fn reject(reason: impl Into<String>) -> Request {
    Request::Reject {
        reply: BAD_REQUEST.to_vec(),
        reason: reason.into(),
    }
}

/// A value used as an array key, as PHP stores it; `None` for arrays (PHP throws) and
/// non-finite floats.
pub fn key_of(v: &Value) -> Option<Key> {
    Some(match v {
        Value::Int(n) => Key::Int(*n),
        Value::Bytes(b) => Key::Bytes(b.clone()).normalized(),
        Value::Bool(b) => Key::Int((*b).into()),
        Value::Float(f) if f.is_finite() => Key::Int(*f as i64),
        _ => return None,
    })
}

fn ttl_ms(a: &Array) -> Option<u64> {
    let secs = match a.get_str("ttl")? {
        Value::Int(n) => *n as f64,
        Value::Float(f) => *f,
        _ => return None,
    };
    (secs > 0.0 && secs.is_finite()).then(|| (secs * 1000.0).ceil().min(u64::MAX as f64) as u64)
}

/// Decodes a request body the way PHP's GlobalData server reads it (§3.2–3.3): falsy bodies,
/// undecodable ones, a missing/null `cmd` or `key` are bad requests; an unknown `cmd` is
/// `bad cmd <cmd>`; `cmd = true` matches `get` (PHP's loose `switch`). Where the PHP server
/// would crash (an array key, a non-numeric step), this rejects the request instead.
pub fn parse_request(body: &[u8]) -> Request {
    if body == PING {
        return Request::Ping;
    }
    if body.is_empty() || body == b"0" {
        return reject("empty body");
    }
    let data = match php_serialize::unserialize(body) {
        Ok(Value::Array(a)) => a,
        Ok(other) => return reject(format!("body is a {}, not an array", other.type_name())),
        Err(e) => return reject(format!("undecodable body: {e}")),
    };
    let Some(cmd) = data.get_str("cmd").filter(|v| !v.is_null()) else {
        return reject("no cmd");
    };
    let Some(key) = data.get_str("key").filter(|v| !v.is_null()) else {
        return reject("no key");
    };
    let name: &[u8] = match cmd {
        Value::Bool(true) => b"get",
        Value::Bytes(b) => b,
        _ => b"",
    };
    let known = matches!(name, b"get" | b"set" | b"add" | b"increment" | b"cas" | b"delete");
    if !known {
        let mut text = b"bad cmd ".to_vec();
        text.extend_from_slice(&php_string(cmd));
        return Request::Reject {
            reason: format!("unknown cmd {:?}", String::from_utf8_lossy(&text[8..])),
            reply: serialize(&Value::Bytes(text)),
        };
    }
    let Some(key) = key_of(key) else {
        return reject(format!("a key cannot be {}", key.type_name()));
    };
    let value = || data.get_str("value").cloned().unwrap_or(Value::Null);
    Request::Command(match name {
        b"get" => Command::Get { key },
        b"set" => Command::Set {
            key,
            value: value(),
            ttl_ms: ttl_ms(&data),
        },
        b"add" => Command::Add {
            key,
            value: value(),
            ttl_ms: ttl_ms(&data),
        },
        b"increment" => {
            let step = data.get_str("step").cloned().unwrap_or(Value::Null);
            if crate::arith::operand(&step).is_err() {
                return reject(format!("unsupported step type {}", step.type_name()));
            }
            Command::Increment { key, step }
        }
        b"cas" => Command::Cas {
            key,
            md5: data.get_str("md5").and_then(|v| v.as_bytes()).map(<[u8]>::to_vec),
            value: value(),
            ttl_ms: ttl_ms(&data),
        },
        _ => Command::Delete { key },
    })
}

/// PHP's string conversion of a scalar (for the `bad cmd` reply): floats with `precision = 14`,
/// `false`/null as empty, arrays as `Array`.
pub fn php_string(v: &Value) -> Vec<u8> {
    match v {
        Value::Null | Value::Bool(false) => Vec::new(),
        Value::Bool(true) => b"1".to_vec(),
        Value::Int(n) => n.to_string().into_bytes(),
        Value::Float(f) => float_precision_14(*f).into_bytes(),
        Value::Bytes(b) => b.clone(),
        Value::Array(_) => b"Array".to_vec(),
    }
}

/// `(string)$float` with `precision = 14` (`%.14G`, PHP style: `1.0E+25`, `0.3`, `-0`).
fn float_precision_14(f: f64) -> String {
    if f.is_nan() {
        return "NAN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "INF".into() } else { "-INF".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // 14 significant digits, then PHP's layout.
    let sci = format!("{:.13e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..14).contains(&exp) {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{}.{rest}E{es}{}", &digits[..1], exp.abs());
    }
    let p = exp + 1; // digits before the point
    if p <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-p) as usize))
    } else if digits.len() as i32 <= p {
        format!("{sign}{digits}{}", "0".repeat((p - digits.len() as i32) as usize))
    } else {
        format!("{sign}{}.{}", &digits[..p as usize], &digits[p as usize..])
    }
}

/// Builds a request body exactly as PHP's `GlobalData\Client` does (keys in its order).
pub fn request(cmd: &str, key: &Key, extra: &[(&str, Value)]) -> Vec<u8> {
    let mut a = Array::new();
    a.insert("cmd", cmd);
    // `cas` puts md5 before key.
    let (before, after): (Vec<_>, Vec<_>) = extra.iter().partition(|(k, _)| *k == "md5");
    for (k, v) in before {
        a.insert(*k, v.clone());
    }
    a.insert("key", Value::from(key.clone()));
    for (k, v) in after {
        a.insert(*k, v.clone());
    }
    serialize(&Value::Array(a))
}

/// Frames a body: `u32be(4 + len)` then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_match_php_client_bytes() {
        let set = request("set", &Key::from("counter"), &[("value", Value::Int(10))]);
        assert_eq!(
            frame(&set),
            b"\x00\x00\x00\x47a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:7:\"counter\";s:5:\"value\";i:10;}"
        );
        let inc = request("increment", &Key::from("counter"), &[("step", Value::Int(1))]);
        assert_eq!(frame(&inc)[..4], [0, 0, 0, 0x4b]);
        let new = Value::Array(Array::from_values([5, 6, 7]));
        let cas = request(
            "cas",
            &Key::from("abc"),
            &[("md5", "262bbc0aa0dc62a93e350f1f7df792b9".into()), ("value", new)],
        );
        assert_eq!(
            frame(&cas),
            b"\x00\x00\x00\x8ea:4:{s:3:\"cmd\";s:3:\"cas\";s:3:\"md5\";s:32:\"262bbc0aa0dc62a93e350f1f7df792b9\";s:3:\"key\";s:3:\"abc\";s:5:\"value\";a:3:{i:0;i:5;i:1;i:6;i:2;i:7;}}"
        );
    }

    #[test]
    fn bad_requests_as_php() {
        for body in [
            &b""[..],
            b"0",
            b"garbage",
            b"i:1;",
            b"a:1:{s:3:\"key\";s:1:\"k\";}",
            b"a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";N;}",
            b"a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";a:0:{}}",
            b"O:8:\"stdClass\":0:{}",
        ] {
            match parse_request(body) {
                Request::Reject { reply, .. } => assert_eq!(reply, BAD_REQUEST),
                other => panic!("{body:?}: {other:?}"),
            }
        }
        let unknown = |cmd: &str| {
            let body = format!("a:2:{{s:3:\"cmd\";{cmd}s:3:\"key\";s:1:\"k\";}}");
            match parse_request(body.as_bytes()) {
                Request::Reject { reply, .. } => String::from_utf8(reply).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(unknown("s:4:\"frob\";"), "s:12:\"bad cmd frob\";");
        assert_eq!(unknown("i:7;"), "s:9:\"bad cmd 7\";");
        assert_eq!(unknown("d:1.5;"), "s:11:\"bad cmd 1.5\";");
        assert_eq!(unknown("b:0;"), "s:8:\"bad cmd \";");
        assert_eq!(unknown("s:3:\"GET\";"), "s:11:\"bad cmd GET\";");
        assert_eq!(parse_request(b"ping"), Request::Ping);
        let get_true = parse_request(b"a:2:{s:3:\"cmd\";b:1;s:3:\"key\";i:5;}");
        assert_eq!(get_true, Request::Command(Command::Get { key: Key::Int(5) }));
    }

    #[test]
    fn float_strings_like_php() {
        for (f, want) in [
            (1.5, "1.5"),
            (1e25, "1.0E+25"),
            (0.1 + 0.2, "0.3"),
            (1e15, "1.0E+15"),
            (-0.0, "-0"),
            (1e-5, "1.0E-5"),
            (123456789012345678.0, "1.2345678901235E+17"),
            (100.0, "100"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(float_precision_14(f), want);
        }
    }
}
