//! PHP's `+` as GlobalData's `increment` uses it (COMPONENTS-WIRE.md §3.2): `is_numeric` for the
//! stored value, numeric-string conversion for the step, int overflow to float.

use php_serialize::Value;

/// A PHP number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
}

impl From<Num> for Value {
    fn from(n: Num) -> Value {
        match n {
            Num::Int(i) => Value::Int(i),
            Num::Float(f) => Value::Float(f),
        }
    }
}

/// The step cannot be added: PHP throws `TypeError: Unsupported operand types` (an array, or a
/// string with no leading number such as `"abc"` or `""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parses PHP's numeric-string grammar: whitespace, `[+-]?`, digits with an optional fraction
/// or `.digits`, an optional exponent. Returns the number and whether the whole string was
/// numeric (trailing whitespace allowed) as opposed to only a leading part (`"5abc"`).
fn numeric_prefix(s: &[u8]) -> Option<(Num, bool)> {
    let mut i = s.iter().take_while(|&&b| is_ws(b)).count();
    let start = i;
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    i += int_digits;
    let mut is_float = false;
    let mut frac_digits = 0;
    if s.get(i) == Some(&b'.') {
        frac_digits = s[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if int_digits > 0 || frac_digits > 0 {
            is_float = true;
            i += 1 + frac_digits;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_digits = s[j..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits > 0 {
            is_float = true;
            i = j + exp_digits;
        }
    }
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let whole = s[i..].iter().all(|&b| is_ws(b));
    let num = if is_float {
        Num::Float(text.parse().ok()?)
    } else {
        match text.parse::<i64>() {
            Ok(n) => Num::Int(n),
            Err(_) => Num::Float(text.parse().ok()?),
        }
    };
    Some((num, whole))
}

/// PHP's `is_numeric($v)`, giving the number: ints, floats and wholly numeric strings.
pub fn numeric(v: &Value) -> Option<Num> {
    match v {
        Value::Int(n) => Some(Num::Int(*n)),
        Value::Float(f) => Some(Num::Float(*f)),
        Value::Bytes(b) => match numeric_prefix(b) {
            Some((n, true)) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// The step as an operand of `+`: null and false are 0, true is 1, a string with a leading
/// number is that number (PHP warns), anything else is [`Unsupported`].
pub fn operand(v: &Value) -> Result<Num, Unsupported> {
    match v {
        Value::Null => Ok(Num::Int(0)),
        Value::Bool(b) => Ok(Num::Int((*b).into())),
        Value::Int(n) => Ok(Num::Int(*n)),
        Value::Float(f) => Ok(Num::Float(*f)),
        Value::Bytes(b) => numeric_prefix(b).map(|(n, _)| n).ok_or(Unsupported),
        Value::Array(_) => Err(Unsupported),
    }
}

/// PHP's `$a + $b` on numbers: int + int stays int unless it overflows, then float.
pub fn add(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => match x.checked_add(y) {
            Some(s) => Num::Int(s),
            None => Num::Float(x as f64 + y as f64),
        },
        (Num::Int(x), Num::Float(y)) => Num::Float(x as f64 + y),
        (Num::Float(x), Num::Int(y)) => Num::Float(x + y as f64),
        (Num::Float(x), Num::Float(y)) => Num::Float(x + y),
    }
}

/// What `increment` stores: a non-numeric current value counts as 0, then `+ step`.
pub fn increment(current: &Value, step: &Value) -> Result<Value, Unsupported> {
    let step = operand(step)?;
    let base = numeric(current).unwrap_or(Num::Int(0));
    Ok(add(base, step).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(cur: Value, step: Value) -> Result<Value, Unsupported> {
        increment(&cur, &step)
    }

    #[test]
    fn matches_php_8_2() {
        // Cases run through `php -r` (PHP 8.2): 1 + step.
        let one = || Value::Int(1);
        assert_eq!(inc(one(), "abc".into()), Err(Unsupported));
        assert_eq!(inc(one(), "".into()), Err(Unsupported));
        assert_eq!(inc(one(), " ".into()), Err(Unsupported));
        assert_eq!(inc(one(), "5abc".into()), Ok(Value::Int(6)));
        assert_eq!(inc(one(), " 5".into()), Ok(Value::Int(6)));
        assert_eq!(inc(one(), "5 ".into()), Ok(Value::Int(6)));
        assert_eq!(inc(one(), "\n5\n".into()), Ok(Value::Int(6)));
        assert_eq!(inc(one(), "1e3".into()), Ok(Value::Float(1001.0)));
        assert_eq!(inc(one(), ".5".into()), Ok(Value::Float(1.5)));
        assert_eq!(inc(one(), "1e".into()), Ok(Value::Int(2)));
        assert_eq!(inc(one(), "0x1A".into()), Ok(Value::Int(1)));
        assert_eq!(
            inc(one(), "9223372036854775808".into()),
            Ok(Value::Float(9.223372036854776e18))
        );
        assert_eq!(inc(one(), Value::Null), Ok(Value::Int(1)));
        assert_eq!(inc(one(), true.into()), Ok(Value::Int(2)));
        assert_eq!(
            inc(Value::Int(i64::MAX), 1.into()),
            Ok(Value::Float(9.223372036854776e18))
        );
        assert_eq!(inc(Value::Float(1.5), 1.into()), Ok(Value::Float(2.5)));
        assert_eq!(inc(one(), Value::Array(Default::default())), Err(Unsupported));
    }

    #[test]
    fn non_numeric_current_resets_to_zero() {
        assert_eq!(inc("abc".into(), 5.into()), Ok(Value::Int(5)));
        assert_eq!(inc("5abc".into(), 5.into()), Ok(Value::Int(5)));
        assert_eq!(inc(true.into(), 5.into()), Ok(Value::Int(5)));
        assert_eq!(inc(" 42".into(), 1.into()), Ok(Value::Int(43)));
        assert_eq!(inc("42 ".into(), 1.into()), Ok(Value::Int(43)));
        assert_eq!(inc("+5".into(), 1.into()), Ok(Value::Int(6)));
        assert_eq!(inc("-.5e-2".into(), 1.into()), Ok(Value::Float(0.995)));
    }
}
