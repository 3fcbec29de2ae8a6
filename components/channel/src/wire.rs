//! The Channel wire: PHP `serialize()`d arrays inside `frame` packets, both directions.
//!
//! ```text
//! +-------------------------------+--------------------------------------------------------+
//! | u32 BE total length (incl. 4) | serialize(['type'=>'publish','channels'=>[..],'data'=>v]) |
//! +-------------------------------+--------------------------------------------------------+
//! 00 00 00 04                      an empty body: a ping, ignored
//! ```
//! Client → server: `subscribe`, `unsubscribe`, `publish`, `publishLoop`, `watch`, `unwatch`,
//! `enqueue` (each with `channels`, a list; the last three with `data`), `reserve`, and our
//! extension `auth` (`secret`). Server → client: `event` and `queue` (`type, channel, data`).
//! Nothing here does I/O: [`Command::parse`] takes a body, the `*_frame` functions build packets.

use php_serialize::{Array, Key, Value};

/// The frame header: a big-endian u32 total length that counts itself.
pub const HEADER: usize = 4;

/// Why a body is not a command we accept. The connection that sent it is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCommand(pub String);

impl std::fmt::Display for BadCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A channel or queue name after PHP's array-key normalisation: how channels are told apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameKey {
    /// An integer key (`5`, or the string `"5"`).
    Int(i64),
    /// Any other string.
    Bytes(Vec<u8>),
}

/// A channel or queue name: the value as the client sent it (echoed back in `event`/`queue`
/// messages) and its PHP-normalised key (`"5"` and `5` are one channel).
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    /// The name as sent.
    pub value: Value,
    /// The map key it normalises to.
    pub key: NameKey,
}

impl Name {
    /// A name from a value of a `channels` list; arrays (a crash in PHP) are refused.
    pub fn from_value(value: Value) -> Result<Name, BadCommand> {
        let key = match &value {
            Value::Int(n) => NameKey::Int(*n),
            Value::Bytes(b) => normalize(b),
            Value::Bool(b) => NameKey::Int(i64::from(*b)),
            Value::Null => NameKey::Bytes(Vec::new()),
            Value::Float(f) if f.is_finite() => NameKey::Int(*f as i64),
            Value::Float(_) => return Err(BadCommand("a channel name is not a finite number".into())),
            Value::Array(_) => return Err(BadCommand("a channel name is an array".into())),
        };
        Ok(Name { value, key })
    }

    /// A name given as a string by a Rust caller.
    pub fn new(name: &str) -> Name {
        Name {
            value: Value::Bytes(name.as_bytes().to_vec()),
            key: normalize(name.as_bytes()),
        }
    }

    /// The name as text (lossy for non-UTF-8 names), for callbacks and Redis keys.
    pub fn text(&self) -> String {
        match &self.value {
            Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            _ => match &self.key {
                NameKey::Int(n) => n.to_string(),
                NameKey::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            },
        }
    }
}

/// PHP's array-key rule: a decimal integer string in i64 range (`0`, `-?[1-9][0-9]*`) is an int.
pub fn normalize(b: &[u8]) -> NameKey {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let canonical = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits == b"0" && b.len() == 1 || digits[0] != b'0');
    if canonical && let Some(n) = std::str::from_utf8(b).ok().and_then(|s| s.parse::<i64>().ok()) {
        return NameKey::Int(n);
    }
    NameKey::Bytes(b.to_vec())
}

/// One client → server command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// An empty body: a heartbeat.
    Ping,
    /// `subscribe`.
    Subscribe(Vec<Name>),
    /// `unsubscribe`.
    Unsubscribe(Vec<Name>),
    /// `publish` (`round_robin` false) or `publishLoop` (true).
    Publish {
        /// Target channels.
        channels: Vec<Name>,
        /// The payload.
        data: Value,
        /// `publishLoop`: one subscriber per channel, in turn.
        round_robin: bool,
    },
    /// `watch`.
    Watch(Vec<Name>),
    /// `unwatch`.
    Unwatch(Vec<Name>),
    /// `enqueue`.
    Enqueue {
        /// Target queues.
        channels: Vec<Name>,
        /// The item.
        data: Value,
    },
    /// `reserve`.
    Reserve,
    /// Our extension: `['type'=>'auth','secret'=>..]`, the first command when a secret is set.
    Auth(Vec<u8>),
    /// A `type` this server does not know (PHP ignores these; so do we).
    Unknown(String),
}

impl Command {
    /// Parses one frame body.
    pub fn parse(body: &[u8]) -> Result<Command, BadCommand> {
        // PHP ignores every falsy body; `0` is the only non-empty one a client could send.
        if body.is_empty() || body == b"0" {
            return Ok(Command::Ping);
        }
        let value = php_serialize::unserialize(body).map_err(|e| BadCommand(format!("not a serialized value: {e}")))?;
        let Value::Array(mut fields) = value else {
            return Err(BadCommand("the body is not an array".into()));
        };
        let ty = match fields.get_str("type") {
            Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(_) => return Err(BadCommand("`type` is not a string".into())),
            None => return Err(BadCommand("no `type`".into())),
        };
        let data = |fields: &mut Array| fields.get_str("data").cloned().unwrap_or(Value::Null);
        Ok(match ty.as_str() {
            "subscribe" => Command::Subscribe(channels(&fields)?),
            "unsubscribe" => Command::Unsubscribe(channels(&fields)?),
            "publish" | "publishLoop" => Command::Publish {
                channels: channels(&fields)?,
                data: data(&mut fields),
                round_robin: ty == "publishLoop",
            },
            "watch" => Command::Watch(channels(&fields)?),
            "unwatch" => Command::Unwatch(channels(&fields)?),
            "enqueue" => Command::Enqueue {
                channels: channels(&fields)?,
                data: data(&mut fields),
            },
            "reserve" => Command::Reserve,
            "auth" => match fields.get_str("secret") {
                Some(Value::Bytes(b)) => Command::Auth(b.clone()),
                _ => return Err(BadCommand("`auth` without a string `secret`".into())),
            },
            _ => Command::Unknown(ty),
        })
    }
}

/// `channels`: PHP's client always sends a list (`(array)$x`); a bare scalar is taken as one name.
fn channels(fields: &Array) -> Result<Vec<Name>, BadCommand> {
    match fields.get_str("channels") {
        Some(Value::Array(list)) => list.iter().map(|(_, v)| Name::from_value(v.clone())).collect(),
        Some(_) | None => Err(BadCommand("`channels` is missing or not an array".into())),
    }
}

fn begin_frame(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    start
}

fn end_frame(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u32;
    out[start..start + HEADER].copy_from_slice(&len.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    php_serialize::serialize_into(&Value::Bytes(s.to_vec()), out);
}

/// Appends a client command frame: `a:N:{s:4:"type";..;s:8:"channels";a:..;[s:4:"data";..]}`,
/// in the PHP client's key order.
pub fn command_frame(out: &mut Vec<u8>, ty: &str, channels: &[&Value], data: Option<&Value>) {
    let start = begin_frame(out);
    let n = 2 + usize::from(data.is_some());
    out.extend_from_slice(format!("a:{n}:{{").as_bytes());
    put_str(out, b"type");
    put_str(out, ty.as_bytes());
    put_str(out, b"channels");
    out.extend_from_slice(format!("a:{}:{{", channels.len()).as_bytes());
    for (i, c) in channels.iter().enumerate() {
        out.extend_from_slice(format!("i:{i};").as_bytes());
        php_serialize::serialize_into(c, out);
    }
    out.push(b'}');
    if let Some(data) = data {
        put_str(out, b"data");
        php_serialize::serialize_into(data, out);
    }
    out.push(b'}');
    end_frame(out, start);
}

/// Appends the `reserve` frame: `a:1:{s:4:"type";s:7:"reserve";}`.
pub fn reserve_frame(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\x00\x00\x00\x23a:1:{s:4:\"type\";s:7:\"reserve\";}");
}

/// Appends our `auth` frame: `a:2:{s:4:"type";s:4:"auth";s:6:"secret";s:N:"..";}`.
pub fn auth_frame(out: &mut Vec<u8>, secret: &[u8]) {
    let start = begin_frame(out);
    out.extend_from_slice(b"a:2:{");
    put_str(out, b"type");
    put_str(out, b"auth");
    put_str(out, b"secret");
    put_str(out, secret);
    out.push(b'}');
    end_frame(out, start);
}

/// Appends the empty ping frame.
pub fn ping_frame(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0, 4]);
}

/// Builds a server → client `event` or `queue` packet (header included), `data` re-serialised
/// canonically as PHP's server does.
pub fn delivery_frame(kind: &str, channel: &Value, data: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let start = begin_frame(&mut out);
    out.extend_from_slice(b"a:3:{");
    put_str(&mut out, b"type");
    put_str(&mut out, kind.as_bytes());
    put_str(&mut out, b"channel");
    php_serialize::serialize_into(channel, &mut out);
    put_str(&mut out, b"data");
    php_serialize::serialize_into(data, &mut out);
    out.push(b'}');
    end_frame(&mut out, start);
    out
}

/// A server → client message as the client reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// `true` for `event` (pub/sub), `false` for `queue`.
    pub is_event: bool,
    /// The channel or queue name.
    pub channel: Name,
    /// The payload.
    pub data: Value,
}

impl Delivery {
    /// Parses a server → client body; `Ok(None)` for an empty (ping) body.
    pub fn parse(body: &[u8]) -> Result<Option<Delivery>, BadCommand> {
        if body.is_empty() {
            return Ok(None);
        }
        let value = php_serialize::unserialize(body).map_err(|e| BadCommand(format!("not a serialized value: {e}")))?;
        let Value::Array(fields) = value else {
            return Err(BadCommand("the body is not an array".into()));
        };
        // Fields are moved out, not cloned: `data` may be a large nested array.
        let (mut is_event, mut channel, mut data) = (false, Value::Null, Value::Null);
        for (key, value) in fields {
            let Key::Bytes(key) = key else { continue };
            match key.as_slice() {
                // PHP's client treats every type other than `event` as a queue message.
                b"type" => is_event = matches!(&value, Value::Bytes(b) if b == b"event"),
                b"channel" => channel = value,
                b"data" => data = value,
                _ => {}
            }
        }
        let channel = Name::from_value(channel)?;
        Ok(Some(Delivery {
            is_event,
            channel,
            data,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Bytes(v.as_bytes().to_vec())
    }

    #[test]
    fn frames_match_the_php_client_bytes() {
        let mut out = Vec::new();
        command_frame(&mut out, "subscribe", &[&s("news"), &s("chat")], None);
        assert_eq!(
            out,
            b"\x00\x00\x00\x58a:2:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:2:{i:0;s:4:\"news\";i:1;s:4:\"chat\";}}"
        );
        let mut data = Array::new();
        data.insert(Key::Bytes(b"id".to_vec()), Value::Int(7));
        let mut out = Vec::new();
        command_frame(&mut out, "publish", &[&s("news")], Some(&Value::Array(data.clone())));
        assert_eq!(
            out,
            &b"\x00\x00\x00\x65a:3:{s:4:\"type\";s:7:\"publish\";s:8:\"channels\";a:1:{i:0;s:4:\"news\";}s:4:\"data\";a:1:{s:2:\"id\";i:7;}}"[..]
        );
        assert_eq!(
            delivery_frame("event", &s("news"), &Value::Array(data)),
            b"\x00\x00\x00\x58a:3:{s:4:\"type\";s:5:\"event\";s:7:\"channel\";s:4:\"news\";s:4:\"data\";a:1:{s:2:\"id\";i:7;}}"
        );
        let mut out = Vec::new();
        reserve_frame(&mut out);
        assert_eq!(out, b"\x00\x00\x00\x23a:1:{s:4:\"type\";s:7:\"reserve\";}");
        assert_eq!(
            delivery_frame("queue", &s("jobs"), &s("j1")),
            b"\x00\x00\x00\x4ea:3:{s:4:\"type\";s:5:\"queue\";s:7:\"channel\";s:4:\"jobs\";s:4:\"data\";s:2:\"j1\";}"
        );
    }

    #[test]
    fn parses_commands_and_refuses_bad_ones() {
        let body = b"a:3:{s:4:\"type\";s:7:\"publish\";s:8:\"channels\";a:1:{i:0;s:1:\"5\";}s:4:\"data\";i:1;}";
        let Command::Publish {
            channels,
            data,
            round_robin,
        } = Command::parse(body).unwrap()
        else {
            panic!("publish")
        };
        assert_eq!(channels[0].key, NameKey::Int(5));
        assert_eq!(channels[0].value, s("5"));
        assert_eq!(data, Value::Int(1));
        assert!(!round_robin);
        assert_eq!(Command::parse(b"").unwrap(), Command::Ping);
        assert_eq!(
            Command::parse(b"a:1:{s:4:\"type\";s:7:\"reserve\";}").unwrap(),
            Command::Reserve
        );
        assert_eq!(
            Command::parse(b"a:1:{s:4:\"type\";s:3:\"zzz\";}").unwrap(),
            Command::Unknown("zzz".into())
        );
        for bad in [
            &b"hello"[..],
            b"s:3:\"abc\";",
            b"O:8:\"stdClass\":0:{}",
            b"a:1:{s:4:\"type\";s:9:\"subscribe\";}",
            b"a:2:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";a:1:{i:0;a:0:{}}}",
            b"a:2:{s:4:\"type\";s:9:\"subscribe\";s:8:\"channels\";O:8:\"stdClass\":0:{}}",
        ] {
            assert!(Command::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn names_normalise_like_php_keys() {
        assert_eq!(normalize(b"5"), NameKey::Int(5));
        assert_eq!(normalize(b"-3"), NameKey::Int(-3));
        assert_eq!(normalize(b"0"), NameKey::Int(0));
        for s in ["05", "-0", "+1", " 5", "5.0", "9223372036854775808", "", "-"] {
            assert_eq!(normalize(s.as_bytes()), NameKey::Bytes(s.as_bytes().to_vec()), "{s}");
        }
    }

    #[test]
    fn parses_deliveries() {
        let d = Delivery::parse(&delivery_frame("queue", &s("jobs"), &s("j1"))[4..])
            .unwrap()
            .unwrap();
        assert!(!d.is_event);
        assert_eq!(d.channel.text(), "jobs");
        assert_eq!(d.data, s("j1"));
        assert_eq!(Delivery::parse(b"").unwrap(), None);
    }
}
