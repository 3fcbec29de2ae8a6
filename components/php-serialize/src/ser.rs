//! The encoder: exactly what PHP 8.2's `serialize()` writes (COMPONENTS-WIRE.md §1.1–1.3).

use crate::value::{Key, Value};

/// Serializes `v` as PHP 8.2 `serialize()` would.
///
/// ```
/// use php_serialize::{serialize, Array, Value};
/// let list = Array::from_values(["a", "b"]);
/// assert_eq!(serialize(&Value::Array(list)), br#"a:2:{i:0;s:1:"a";i:1;s:1:"b";}"#);
/// assert_eq!(serialize(&Value::Float(0.1)), b"d:0.1;");
/// ```
pub fn serialize(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    serialize_into(v, &mut out);
    out
}

/// Appends the serialization of `v` to `out`.
pub fn serialize_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"N;"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"b:1;" } else { b"b:0;" }),
        Value::Int(n) => int(*n, out),
        Value::Float(f) => {
            out.extend_from_slice(b"d:");
            write_float(*f, out);
            out.push(b';');
        }
        Value::Bytes(b) => bytes(b, out),
        Value::Array(a) => {
            out.extend_from_slice(b"a:");
            out.extend_from_slice(a.len().to_string().as_bytes());
            out.extend_from_slice(b":{");
            for (k, v) in a.iter() {
                match k {
                    Key::Int(n) => int(*n, out),
                    Key::Bytes(b) => bytes(b, out),
                }
                serialize_into(v, out);
            }
            out.push(b'}');
        }
    }
}

fn int(n: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"i:");
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b';');
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"s:");
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b":\"");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\";");
}

/// Writes `f` the way PHP does with `serialize_precision = -1` (the text between `d:` and `;`).
///
/// Shortest round-trip digits (from `ryu`, which breaks ties to even like PHP's `zend_dtoa`
/// mode 0), then laid out by PHP's `smart_str_append_double` rules: scientific `1.0E+20` when the
/// decimal exponent is below -3 or above 17 (in `0.d1d2… × 10^P` terms), else positional.
///
/// ```
/// let mut s = Vec::new();
/// php_serialize::write_float(1e20, &mut s);
/// assert_eq!(s, b"1.0E+20");
/// ```
pub fn write_float(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"NAN");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"INF" } else { b"-INF" });
        return;
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    let (digits, p) = shortest_digits(f.abs());
    let n = digits.len() as i32;
    if !(-3..=17).contains(&p) {
        out.push(digits[0]);
        out.push(b'.');
        if n == 1 {
            out.push(b'0');
        } else {
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'E');
        let e = p - 1;
        out.push(if e < 0 { b'-' } else { b'+' });
        out.extend_from_slice(e.unsigned_abs().to_string().as_bytes());
    } else if p <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-p) as usize));
        out.extend_from_slice(&digits);
    } else if n <= p {
        out.extend_from_slice(&digits);
        out.extend(std::iter::repeat_n(b'0', (p - n) as usize));
    } else {
        out.extend_from_slice(&digits[..p as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[p as usize..]);
    }
}

/// The shortest round-trip digits `D` (no leading/trailing zeros) and exponent `P` with
/// `x = 0.D × 10^P`, for finite `x >= 0`. Zero is `("0", 1)`.
fn shortest_digits(x: f64) -> (Vec<u8>, i32) {
    if x == 0.0 {
        return (b"0".to_vec(), 1);
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(x).as_bytes();
    // ryu writes forms like "0.1", "1.0", "123.456", "1e20", "1.5e-7".
    let (mantissa, exp10) = match text.iter().position(|&b| b == b'e') {
        Some(i) => (
            &text[..i],
            std::str::from_utf8(&text[i + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .unwrap_or(0),
        ),
        None => (text, 0),
    };
    let dot = mantissa.iter().position(|&b| b == b'.').unwrap_or(mantissa.len());
    let mut digits: Vec<u8> = mantissa.iter().copied().filter(|&b| b != b'.').collect();
    // Value = 0.digits × 10^(dot + exp10) before trimming.
    let mut p = dot as i32 + exp10;
    let lead = digits.iter().take_while(|&&b| b == b'0').count();
    digits.drain(..lead);
    p -= lead as i32;
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut v = Vec::new();
        write_float(x, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn float_table_from_php() {
        for (x, want) in [
            (0.1, "0.1"),
            (1.0, "1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5E-7"),
            (9.99, "9.99"),
            (1e15, "1000000000000000"),
            (1e16, "10000000000000000"),
            (1.2345678901234568e17, "1.2345678901234568E+17"),
            (1e20, "1.0E+20"),
            (1e25, "1.0E+25"),
            (1e-5, "1.0E-5"),
            (5e-324, "5.0E-324"),
            (f64::MAX, "1.7976931348623157E+308"),
            // A tie: PHP picks the even last digit.
            (1_449_007_238_936_148.0 + 0.25, "1449007238936148.2"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (9.223372036854776e18, "9.223372036854776E+18"),
            (f64::INFINITY, "INF"),
            (f64::NEG_INFINITY, "-INF"),
            (f64::NAN, "NAN"),
        ] {
            assert_eq!(f(x), want, "{x:e}");
        }
    }
}
