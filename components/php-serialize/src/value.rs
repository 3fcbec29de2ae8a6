//! The data model: [`Value`], [`Key`] and the insertion-ordered [`Array`].

use std::collections::HashMap;

/// A PHP value of the plain-data subset: what `serialize()` writes for null, bool, int, float,
/// string and array.
///
/// Floats compare with `==` (so `NAN != NAN`); compare serialized bytes when that matters.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, written `N;`.
    Null,
    /// `true` / `false`, written `b:1;` / `b:0;`.
    Bool(bool),
    /// A PHP int (i64), written `i:42;`.
    Int(i64),
    /// A PHP float, written `d:0.1;` with PHP's shortest round-trip spelling.
    Float(f64),
    /// A PHP string: raw bytes, not necessarily UTF-8, written `s:LEN:"…";`.
    Bytes(Vec<u8>),
    /// A PHP array (list or map), written `a:N:{…}`.
    Array(Array),
}

/// An array key: PHP allows only ints and strings.
///
/// Build keys with [`Key::from`] or [`Key::normalized`]; [`Array`] normalises every key it stores
/// the way PHP does (`"5"` becomes `Int(5)`, `"05"` stays a string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// An integer key, written `i:5;`.
    Int(i64),
    /// A string key, written `s:1:"k";`.
    Bytes(Vec<u8>),
}

impl Key {
    /// Applies PHP's key normalisation: a string that is the canonical decimal spelling of an
    /// i64 (`0` or `-?[1-9][0-9]*`, in range) becomes an int key; anything else is unchanged.
    ///
    /// ```
    /// use php_serialize::Key;
    /// assert_eq!(Key::from("5").normalized(), Key::Int(5));
    /// assert_eq!(Key::from("05").normalized(), Key::from("05"));
    /// assert_eq!(Key::from("-0").normalized(), Key::from("-0"));
    /// ```
    pub fn normalized(self) -> Key {
        match self {
            Key::Bytes(b) => match canonical_int(&b) {
                Some(n) => Key::Int(n),
                None => Key::Bytes(b),
            },
            k => k,
        }
    }

    /// The key's bytes as PHP would see them as a string (`Int(5)` gives `"5"`).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Key::Int(n) => n.to_string().into_bytes(),
            Key::Bytes(b) => b.clone(),
        }
    }
}

/// Parses `0` or `-?[1-9][0-9]*` when it fits an i64 (PHP's `ZEND_HANDLE_NUMERIC_STR`).
pub(crate) fn canonical_int(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || digits.len() != b.len()) {
        return None; // "05", "-0"
    }
    // Only ASCII digits and an optional sign remain, so this is valid UTF-8.
    std::str::from_utf8(b).ok()?.parse().ok()
}

impl From<i64> for Key {
    fn from(n: i64) -> Key {
        Key::Int(n)
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::Bytes(s.into_bytes())
    }
}

impl From<Vec<u8>> for Key {
    fn from(b: Vec<u8>) -> Key {
        Key::Bytes(b)
    }
}

impl From<&[u8]> for Key {
    fn from(b: &[u8]) -> Key {
        Key::Bytes(b.to_vec())
    }
}

/// PHP's ordered array: `(Key, Value)` pairs in insertion order, keys unique after
/// normalisation, with PHP's "next free int key" for [`Array::push`].
///
/// Lookups in arrays of up to 8 entries scan the entries (what a wire message
/// usually is: a few fields); bigger arrays keep a hash index beside them.
#[derive(Debug, Clone, Default)]
pub struct Array {
    entries: Vec<(Key, Value)>,
    /// Key → position, kept only above `INDEX_FROM` entries.
    index: Option<HashMap<Key, usize>>,
    /// PHP's `nNextFreeElement`; `i64::MIN` means "no int key yet" (the next push uses 0).
    next_free: i64,
}

/// The size above which an [`Array`] keeps a hash index of its keys.
const INDEX_FROM: usize = 8;

impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        self.entries == other.entries
    }
}

impl Array {
    /// An empty array.
    pub fn new() -> Array {
        Array {
            entries: Vec::new(),
            index: None,
            next_free: i64::MIN,
        }
    }

    /// An empty array with room for `n` entries.
    pub fn with_capacity(n: usize) -> Array {
        Array {
            entries: Vec::with_capacity(n),
            index: None,
            next_free: i64::MIN,
        }
    }

    /// Stores `value` under the normalised `key`. An existing key keeps its position and gets the
    /// new value (PHP's `$a[$k] = $v`). Returns the previous value, if any.
    ///
    /// ```
    /// use php_serialize::{Array, Key, Value};
    /// let mut a = Array::new();
    /// a.insert("5", "x");
    /// a.insert(Key::Int(5), "y");
    /// assert_eq!(a.len(), 1);
    /// assert_eq!(a.get(&Key::Int(5)), Some(&Value::from("y")));
    /// ```
    pub fn insert(&mut self, key: impl Into<Key>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into().normalized();
        let value = value.into();
        if let Some(i) = self.position(&key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        if let Key::Int(n) = key {
            if n >= self.next_free {
                self.next_free = n.saturating_add(1);
            }
        }
        match &mut self.index {
            Some(index) => {
                index.insert(key.clone(), self.entries.len());
            }
            None if self.entries.len() == INDEX_FROM => {
                let mut index = HashMap::with_capacity(self.entries.capacity().max(2 * INDEX_FROM));
                for (i, (k, _)) in self.entries.iter().enumerate() {
                    index.insert(k.clone(), i);
                }
                index.insert(key.clone(), self.entries.len());
                self.index = Some(index);
            }
            None => {}
        }
        self.entries.push((key, value));
        None
    }

    /// The position of a normalised key.
    fn position(&self, key: &Key) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(k, _)| k == key),
        }
    }

    /// Appends `value` under the next free int key (PHP's `$a[] = $v`): one more than the
    /// largest int key ever stored, or 0. Returns the key used, or `None` (and stores nothing)
    /// when that key is taken, as PHP refuses when `PHP_INT_MAX` is in use.
    pub fn push(&mut self, value: impl Into<Value>) -> Option<i64> {
        let key = if self.next_free == i64::MIN { 0 } else { self.next_free };
        if self.position(&Key::Int(key)).is_some() {
            return None;
        }
        self.insert(Key::Int(key), value);
        Some(key)
    }

    /// The value under `key` (normalised first).
    pub fn get(&self, key: &Key) -> Option<&Value> {
        match key {
            Key::Bytes(b) => self.get_bytes(b),
            Key::Int(_) => Some(&self.entries[self.position(key)?].1),
        }
    }

    /// The value under a string key (normalised first, so `get_str("5")` finds `Int(5)`).
    pub fn get_str(&self, key: &str) -> Option<&Value> {
        self.get_bytes(key.as_bytes())
    }

    /// The value under a byte-string key (normalised first), without allocating a [`Key`] for
    /// the small arrays that scan their entries.
    fn get_bytes(&self, b: &[u8]) -> Option<&Value> {
        let i = match canonical_int(b) {
            Some(n) => self.position(&Key::Int(n))?,
            None => match &self.index {
                Some(index) => *index.get(&Key::Bytes(b.to_vec()))?,
                None => self
                    .entries
                    .iter()
                    .position(|(k, _)| matches!(k, Key::Bytes(kb) if kb.as_slice() == b))?,
            },
        };
        Some(&self.entries[i].1)
    }

    /// Mutable access to the value under `key` (normalised first).
    pub fn get_mut(&mut self, key: &Key) -> Option<&mut Value> {
        let key = key.clone().normalized();
        let i = self.position(&key)?;
        Some(&mut self.entries[i].1)
    }

    /// Removes `key` (normalised first), keeping the order of the rest; returns its value.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let key = key.clone().normalized();
        let i = self.position(&key)?;
        let (_, v) = self.entries.remove(i);
        if let Some(index) = &mut self.index {
            index.remove(&key);
            for pos in index.values_mut() {
                if *pos > i {
                    *pos -= 1;
                }
            }
        }
        Some(v)
    }

    /// Whether `key` (normalised first) is present.
    pub fn contains_key(&self, key: &Key) -> bool {
        self.get(key).is_some()
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Key, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The values in insertion order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the array has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the keys are exactly 0, 1, …, n-1 in order (PHP's `array_is_list`).
    pub fn is_list(&self) -> bool {
        self.entries
            .iter()
            .enumerate()
            .all(|(i, (k, _))| *k == Key::Int(i as i64))
    }

    /// Builds a list (keys 0..n) from values.
    pub fn from_values<V: Into<Value>>(values: impl IntoIterator<Item = V>) -> Array {
        let mut a = Array::new();
        for v in values {
            a.push(v);
        }
        a
    }
}

impl IntoIterator for Array {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Array {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Array {
        let mut a = Array::new();
        for (k, v) in iter {
            a.insert(k, v);
        }
        a
    }
}

impl Value {
    /// The bytes of a string value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A string value that is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// An int value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A float value.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// A bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// An array value.
    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A mutable array value.
    pub fn as_array_mut(&mut self) -> Option<&mut Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The PHP type name, for error messages (`"int"`, `"string"`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bytes(_) => "string",
            Value::Array(_) => "array",
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int(n.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Bytes(s.into_bytes())
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }
}

impl From<Array> for Value {
    fn from(a: Array) -> Value {
        Value::Array(a)
    }
}

impl From<Key> for Value {
    fn from(k: Key) -> Value {
        match k {
            Key::Int(n) => Value::Int(n),
            Key::Bytes(b) => Value::Bytes(b),
        }
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_normalisation_table() {
        for (s, int) in [
            ("5", Some(5)),
            ("-3", Some(-3)),
            ("0", Some(0)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775807", Some(i64::MAX)),
            ("05", None),
            ("-0", None),
            ("+1", None),
            (" 5", None),
            ("5 ", None),
            ("5.0", None),
            ("9223372036854775808", None),
            ("", None),
            ("-", None),
        ] {
            let k = Key::from(s).normalized();
            match int {
                Some(n) => assert_eq!(k, Key::Int(n), "{s}"),
                None => assert_eq!(k, Key::from(s), "{s}"),
            }
        }
    }

    #[test]
    fn push_uses_next_free_key_like_php() {
        let mut a = Array::new();
        a.insert(5, "x");
        a.insert("k", "y");
        assert_eq!(a.push("z"), Some(6));
        let mut neg = Array::new();
        neg.insert(-5, "a");
        assert_eq!(neg.push("b"), Some(-4)); // php 8.2 here: [-5=>"a","b"] gives key -4
        let mut full = Array::new();
        full.insert(i64::MAX, 1);
        assert_eq!(full.push(2), None);
        assert_eq!(full.len(), 1);
    }

    #[test]
    fn duplicate_key_keeps_first_position() {
        let mut a = Array::new();
        a.insert(0, 1);
        a.insert("x", 2);
        a.insert("0", 3);
        let got: Vec<_> = a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(got, vec![(Key::Int(0), Value::Int(3)), (Key::from("x"), Value::Int(2))]);
        assert_eq!(a.remove(&Key::from("0")), Some(Value::Int(3)));
        assert_eq!(a.get_str("x"), Some(&Value::Int(2)));
    }

    #[test]
    fn small_and_indexed_arrays_agree_with_a_plain_model() {
        // Keys go through the scan below INDEX_FROM entries and the hash index above it, and
        // the index survives removals; a Vec of pairs with linear search is the model.
        let mut a = Array::new();
        let mut model: Vec<(Key, i64)> = Vec::new();
        let key = |i: i64| -> Key {
            if i % 3 == 0 {
                Key::Int(i)
            } else if i % 3 == 1 {
                Key::from(format!("{i}"))
            } else {
                Key::from(format!("k{i}"))
            }
        };
        let mut step = 0i64;
        for round in 0..4 {
            for i in 0..(6 + 5 * round) {
                step += 1;
                let k = key(i);
                a.insert(k.clone(), step);
                let k = k.normalized();
                match model.iter_mut().find(|(m, _)| *m == k) {
                    Some(e) => e.1 = step,
                    None => model.push((k, step)),
                }
            }
            for i in (0..(6 + 5 * round)).step_by(4) {
                let k = key(i);
                let got = a.remove(&k).map(|v| match v {
                    Value::Int(n) => n,
                    _ => unreachable!(),
                });
                let k = k.normalized();
                let want = model.iter().position(|(m, _)| *m == k).map(|p| model.remove(p).1);
                assert_eq!(got, want, "remove {k:?}");
            }
            assert_eq!(a.len(), model.len());
            for (k, v) in &model {
                assert_eq!(a.get(k), Some(&Value::Int(*v)), "{k:?}");
                if let Key::Bytes(b) = k {
                    assert_eq!(a.get_str(std::str::from_utf8(b).unwrap()), Some(&Value::Int(*v)));
                }
            }
            let order: Vec<Key> = a.iter().map(|(k, _)| k.clone()).collect();
            let want: Vec<Key> = model.iter().map(|(k, _)| k.clone()).collect();
            assert_eq!(order, want);
            assert!(a.get_str("absent").is_none() && a.get(&Key::Int(999)).is_none());
        }
        assert!(a.len() > INDEX_FROM, "the index was exercised");
        assert!(a.index.is_some());
    }
}
