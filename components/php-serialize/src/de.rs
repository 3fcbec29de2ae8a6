//! The decoder: PHP 8.2 `unserialize()` for plain data, with its leniencies (§1.4) and without
//! its dangers (objects, references).

use crate::error::{Error, Reason};
use crate::value::{Array, Key, Value};

/// Limits and strictness for [`unserialize_with`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Deepest array nesting accepted. Default 512 (PHP's own default is 4096; the decoder
    /// recurses, so the bound also bounds stack use).
    pub max_depth: usize,
    /// Reject bytes after the value. Default `false`: like PHP 8.2, they are ignored.
    pub strict: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_depth: 512,
            strict: false,
        }
    }
}

/// Decodes PHP `serialize()` output into a [`Value`].
///
/// Accepts what PHP 8.2's `unserialize` accepts for plain data, including its lenient number
/// forms (`i:+5;`, `i:05;`, `d:.5;`, `d:1e20;`, saturating out-of-range ints) and ignoring bytes
/// after the value. Rejects objects (`O:` `C:`), enums (`E:`), references (`r:` `R:`), escaped
/// strings (`S:`) and anything malformed with an [`Error`] giving the offset; never panics.
///
/// ```
/// use php_serialize::{unserialize, Value};
/// let v = unserialize(br#"a:1:{s:1:"5";d:1.0;}"#).unwrap();
/// assert_eq!(v.as_array().unwrap().get_str("5"), Some(&Value::Float(1.0)));
/// assert!(unserialize(br#"O:8:"stdClass":0:{}"#).is_err());
/// ```
pub fn unserialize(input: &[u8]) -> Result<Value, Error> {
    unserialize_with(input, Options::default())
}

/// [`unserialize`] with explicit [`Options`].
pub fn unserialize_with(input: &[u8], opts: Options) -> Result<Value, Error> {
    let (v, used) = unserialize_prefix(input, opts)?;
    if opts.strict && used != input.len() {
        return Err(Error::at(used, Reason::TrailingBytes));
    }
    Ok(v)
}

/// Decodes one value from the start of `input`; returns it and the number of bytes it used.
pub fn unserialize_prefix(input: &[u8], opts: Options) -> Result<(Value, usize), Error> {
    let mut p = Parser {
        s: input,
        pos: 0,
        max_depth: opts.max_depth,
    };
    let v = p.value(0)?;
    Ok((v, p.pos))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn err<T>(&self, reason: Reason) -> Result<T, Error> {
        Err(Error::at(self.pos, reason))
    }

    fn peek(&self) -> Result<u8, Error> {
        match self.s.get(self.pos) {
            Some(&b) => Ok(b),
            None => self.err(Reason::UnexpectedEnd),
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), Error> {
        let got = self.peek()?;
        if got != b {
            return self.err(Reason::Unexpected(got));
        }
        self.pos += 1;
        Ok(())
    }

    /// The bytes up to (not including) `end`, consuming `end` too.
    fn until(&mut self, end: u8) -> Result<&[u8], Error> {
        let start = self.pos;
        match self.s[start..].iter().position(|&b| b == end) {
            Some(n) => {
                self.pos = start + n + 1;
                Ok(&self.s[start..start + n])
            }
            None => {
                self.pos = self.s.len();
                self.err(Reason::UnexpectedEnd)
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        let tag = self.peek()?;
        match tag {
            b'N' => {
                self.pos += 1;
                self.expect(b';')?;
                Ok(Value::Null)
            }
            b'b' => {
                self.tag_colon()?;
                let start = self.pos;
                let v = match self.until(b';')? {
                    b"0" => false,
                    b"1" => true,
                    _ => return Err(Error::at(start, Reason::BadNumber)),
                };
                Ok(Value::Bool(v))
            }
            b'i' => {
                self.tag_colon()?;
                Ok(Value::Int(self.int_until(b';')?))
            }
            b'd' => {
                self.tag_colon()?;
                let start = self.pos;
                let text = self.until(b';')?;
                parse_float(text)
                    .map(Value::Float)
                    .ok_or(Error::at(start, Reason::BadNumber))
            }
            b's' => {
                self.tag_colon()?;
                Ok(Value::Bytes(self.string_body()?))
            }
            b'a' => {
                if depth >= self.max_depth {
                    return self.err(Reason::TooDeep(self.max_depth));
                }
                self.tag_colon()?;
                let count = self.len_until(b':')?;
                self.expect(b'{')?;
                // Each entry needs at least 6 bytes (`i:0;N;`): never pre-allocate more than
                // the input could hold.
                let room = (self.s.len() - self.pos) / 6;
                let mut a = Array::with_capacity(count.min(room));
                for _ in 0..count {
                    let key = self.key()?;
                    let v = self.value(depth + 1)?;
                    a.insert(key, v);
                }
                self.expect(b'}')?;
                Ok(Value::Array(a))
            }
            b'O' | b'C' | b'E' | b'r' | b'R' | b'S' | b'o' => self.err(Reason::Forbidden(tag)),
            other => self.err(Reason::Unexpected(other)),
        }
    }

    fn tag_colon(&mut self) -> Result<(), Error> {
        self.pos += 1;
        self.expect(b':')
    }

    fn key(&mut self) -> Result<Key, Error> {
        match self.peek()? {
            b'i' => {
                self.tag_colon()?;
                Ok(Key::Int(self.int_until(b';')?))
            }
            b's' => {
                self.tag_colon()?;
                Ok(Key::Bytes(self.string_body()?))
            }
            b'O' | b'C' | b'E' | b'r' | b'R' | b'S' => {
                let b = self.peek()?;
                self.err(Reason::Forbidden(b))
            }
            _ => self.err(Reason::BadKey),
        }
    }

    /// `LEN:"bytes";` after `s:`.
    fn string_body(&mut self) -> Result<Vec<u8>, Error> {
        let len = self.len_until(b':')?;
        self.expect(b'"')?;
        let start = self.pos;
        let end = match start.checked_add(len) {
            Some(e) if e <= self.s.len() => e,
            _ => return self.err(Reason::BadString),
        };
        if self.s.get(end..end + 2) != Some(b"\";") {
            return Err(Error::at(end, Reason::BadString));
        }
        self.pos = end + 2;
        Ok(self.s[start..end].to_vec())
    }

    /// An unsigned length (`[0-9]+`, PHP's `uiv`) terminated by `end`.
    fn len_until(&mut self, end: u8) -> Result<usize, Error> {
        let start = self.pos;
        let text = self.until(end)?;
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return Err(Error::at(start, Reason::BadNumber));
        }
        let mut n: usize = 0;
        for &d in text {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(d - b'0')))
                .ok_or(Error::at(start, Reason::BadNumber))?;
        }
        Ok(n)
    }

    /// A signed int (`[+-]?[0-9]+`, PHP's `iv`) terminated by `end`; out-of-range values
    /// saturate as PHP 8.2 does.
    fn int_until(&mut self, end: u8) -> Result<i64, Error> {
        let start = self.pos;
        let text = self.until(end)?;
        parse_int(text).ok_or(Error::at(start, Reason::BadNumber))
    }
}

fn parse_int(text: &[u8]) -> Option<i64> {
    let (neg, digits) = match text.first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i128 = 0;
    for &d in digits {
        n = (n * 10 + i128::from(d - b'0')).min(i128::from(u64::MAX) + 1);
    }
    let n = if neg { -n } else { n };
    Some(n.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// PHP's `d:` grammar: `NAN`, `INF`, `-INF`, or `[+-]?(digits | digits.digits? | .digits)`
/// with an optional `[eE][+-]?digits`.
fn parse_float(text: &[u8]) -> Option<f64> {
    match text {
        b"NAN" => return Some(f64::NAN),
        b"INF" => return Some(f64::INFINITY),
        b"-INF" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let body = match text.first() {
        Some(b'+' | b'-') => &text[1..],
        _ => text,
    };
    let (mant, exp) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = match mant.iter().position(|&b| b == b'.') {
        Some(i) => (&mant[..i], Some(&mant[i + 1..])),
        None => (mant, None),
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let mant_ok =
        digits(int_part) && frac.is_none_or(digits) && !(int_part.is_empty() && frac.is_none_or(<[u8]>::is_empty));
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(b"+").or_else(|| e.strip_prefix(b"-")).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !mant_ok || !exp_ok {
        return None;
    }
    // Validated as decimal: Rust's parser agrees on these forms (and would also take "inf",
    // which the grammar above has already refused).
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_numbers() {
        for (s, v) in [
            ("d:1.0;", Value::Float(1.0)),
            ("d:1e20;", Value::Float(1e20)),
            ("d:.5;", Value::Float(0.5)),
            ("d:5.;", Value::Float(5.0)),
            ("d:+1.5;", Value::Float(1.5)),
            ("d:-.5e-3;", Value::Float(-0.0005)),
            ("d:1E5;", Value::Float(1e5)),
            ("d:7;", Value::Float(7.0)),
            ("i:+5;", Value::Int(5)),
            ("i:05;", Value::Int(5)),
            ("i:-0;", Value::Int(0)),
            ("i:9223372036854775808;", Value::Int(i64::MAX)),
            ("i:-9223372036854775809;", Value::Int(i64::MIN)),
            ("i:99999999999999999999999999999999;", Value::Int(i64::MAX)),
            ("s:03:\"abc\";", Value::from("abc")),
        ] {
            assert_eq!(unserialize(s.as_bytes()).unwrap(), v, "{s}");
        }
    }

    #[test]
    fn rejects_what_php_rejects() {
        for s in [
            "b:2;",
            "i:1.5;",
            "d:0x1A;",
            "d:+INF;",
            "d:-NAN;",
            "d:1e;",
            "d:inf;",
            "d:.;",
            "d:;",
            "i:;",
            "i:-;",
            "s:2:\"abc\";",
            "s:3:\"abc\"",
            "s:-1:\"\";",
            "a:2:{i:0;i:1;}",
            "a:1:{i:0;i:1;i:1;i:2;}",
            " i:1;",
            "I:1;",
            "a:-1:{}",
            "a:1:{d:1;i:1;}",
            "a:1:{b:1;i:1;}",
            "a:1:{N;i:1;}",
            "a:1:{a:0:{}i:1;}",
            "",
            "N",
            "x:1;",
            "s:99999999999999999999999999:\"\";",
            "a:0:{",
            "a:0:}",
        ] {
            assert!(unserialize(s.as_bytes()).is_err(), "{s:?} should fail");
        }
    }

    #[test]
    fn rejects_objects_and_references() {
        for s in [
            "O:8:\"stdClass\":0:{}",
            "C:3:\"Foo\":0:{}",
            "E:7:\"Foo:Bar\";",
            "a:2:{i:0;s:1:\"x\";i:1;R:2;}",
            "a:2:{i:0;s:1:\"x\";i:1;r:2;}",
            "S:1:\"\\61\";",
            "a:1:{i:0;O:8:\"stdClass\":0:{}}",
        ] {
            let e = unserialize(s.as_bytes()).unwrap_err();
            assert!(matches!(e.reason, Reason::Forbidden(_)), "{s}: {e}");
        }
    }

    #[test]
    fn trailing_bytes_ignored_unless_strict() {
        for s in ["s:3:\"abc\";trailing", "N;extra", "a:1:{i:0;i:1;}}"] {
            assert!(unserialize(s.as_bytes()).is_ok(), "{s}");
            let strict = Options {
                strict: true,
                ..Options::default()
            };
            let e = unserialize_with(s.as_bytes(), strict).unwrap_err();
            assert_eq!(e.reason, Reason::TrailingBytes);
        }
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        let v = unserialize(b"a:3:{i:0;i:1;s:1:\"x\";i:5;s:1:\"0\";i:2;}").unwrap();
        assert_eq!(crate::serialize(&v), b"a:2:{i:0;i:2;s:1:\"x\";i:5;}".to_vec());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = |n: usize| {
            let mut s = "a:1:{i:0;".repeat(n);
            s.push_str("N;");
            s.push_str(&"}".repeat(n));
            s
        };
        assert!(unserialize(deep(512).as_bytes()).is_ok());
        let e = unserialize(deep(513).as_bytes()).unwrap_err();
        assert_eq!(e.reason, Reason::TooDeep(512));
        assert!(unserialize(deep(100_000).as_bytes()).is_err());
    }

    #[test]
    fn huge_declared_count_does_not_allocate() {
        assert!(unserialize(b"a:999999999999:{}").is_err());
    }
}
