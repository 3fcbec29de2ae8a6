//! PHP-style nested form and query fields: `a[]=1&a[]=2`, `a[b][c]=1`, parsed into a tree as
//! PHP fills `$_GET` and `$_POST`.
//!
//! ```text
//! user[name]=ann & user[tags][]=x & user[tags][]=y & page=2
//!   └─► { "user": { "name": "ann", "tags": { "0": "x", "1": "y" } }, "page": "2" }
//! ```
//! PHP's rules, kept: in a top-level name, `.` and ` ` become `_` (so does a `[` without its `]`);
//! `[]` appends with the next integer key; text after a closing `]` that is not `[` is ignored;
//! a later field replaces an earlier one at the same place (a value or a whole array); names
//! nested deeper than [`MAX_FORM_DEPTH`] are dropped.

use super::Request;

/// The deepest nesting kept, as PHP's `max_input_nesting_level`: 64.
pub const MAX_FORM_DEPTH: usize = 64;

/// A form or query value: a string, or an ordered map of them (a PHP array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormValue {
    /// A field's value.
    Value(String),
    /// Fields by key, in the order first set; list-like arrays have keys `"0"`, `"1"`, ...
    Array(Vec<(String, FormValue)>),
}

impl Default for FormValue {
    fn default() -> Self {
        FormValue::Array(Vec::new())
    }
}

impl FormValue {
    /// Builds the tree from decoded `(name, value)` pairs, in order.
    ///
    /// ```
    /// use workerman::protocol::http::FormValue;
    /// let pairs = [("a[]", "1"), ("a[]", "2"), ("b[c][d]", "x")];
    /// let v = FormValue::from_pairs(pairs.iter().map(|(k, v)| (*k, *v)));
    /// assert_eq!(v.get("a").unwrap().list().unwrap(), ["1", "2"]);
    /// assert_eq!(v.get("b").and_then(|b| b.get("c")).and_then(|c| c.get("d")).unwrap().as_str(), Some("x"));
    /// ```
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FormValue {
        let mut root = FormValue::default();
        for (name, value) in pairs {
            if let Some(path) = parse_name(name) {
                root.set(&path, value);
            }
        }
        root
    }

    /// The string, for a value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FormValue::Value(s) => Some(s),
            FormValue::Array(_) => None,
        }
    }

    /// The entries, for an array.
    pub fn as_array(&self) -> Option<&[(String, FormValue)]> {
        match self {
            FormValue::Array(a) => Some(a),
            FormValue::Value(_) => None,
        }
    }

    /// The entry `key` of an array.
    pub fn get(&self, key: &str) -> Option<&FormValue> {
        self.as_array()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string values of an array, in order (`a[]=1&a[]=2` → `["1", "2"]`); `None` for a
    /// value or an array holding arrays.
    pub fn list(&self) -> Option<Vec<&str>> {
        self.as_array()?.iter().map(|(_, v)| v.as_str()).collect()
    }

    /// As JSON: values as strings, arrays with keys `0..n` in order as JSON arrays, other arrays
    /// as objects (what PHP's `json_encode($_GET)` gives).
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FormValue::Value(s) => serde_json::Value::String(s.clone()),
            FormValue::Array(a) if a.iter().enumerate().all(|(i, (k, _))| *k == i.to_string()) && !a.is_empty() => {
                serde_json::Value::Array(a.iter().map(|(_, v)| v.to_json()).collect())
            }
            FormValue::Array(a) => serde_json::Value::Object(a.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// Sets `value` at `path` (a `None` key appends), turning values on the way into arrays.
    fn set(&mut self, path: &[Option<String>], value: &str) {
        let Some((key, rest)) = path.split_first() else {
            *self = FormValue::Value(value.to_string());
            return;
        };
        if !matches!(self, FormValue::Array(_)) {
            *self = FormValue::default();
        }
        let FormValue::Array(entries) = self else {
            unreachable!("made an array above")
        };
        let key = match key {
            Some(k) => k.clone(),
            None => next_index(entries).to_string(),
        };
        let slot = match entries.iter().position(|(k, _)| *k == key) {
            Some(i) => &mut entries[i].1,
            None => {
                entries.push((key, FormValue::default()));
                &mut entries.last_mut().expect("just pushed").1
            }
        };
        slot.set(rest, value);
    }
}

/// PHP's next free integer key: one past the largest integer key, at least 0.
fn next_index(entries: &[(String, FormValue)]) -> i64 {
    entries
        .iter()
        .filter_map(|(k, _)| int_key(k))
        .max()
        .map_or(0, |m| m.saturating_add(1).max(0))
}

/// A key PHP stores as an integer: canonical decimal (`"7"`, `"-3"`; not `"07"` or `"+1"`).
fn int_key(k: &str) -> Option<i64> {
    let n: i64 = k.parse().ok()?;
    (n.to_string() == k).then_some(n)
}

/// Splits a field name into its path: `a[b][]` → `[Some("a"), Some("b"), None]`. `None` for a
/// name PHP drops (empty, or nested deeper than [`MAX_FORM_DEPTH`]).
fn parse_name(name: &str) -> Option<Vec<Option<String>>> {
    let name = name.trim_start_matches(' ');
    let (base, mut rest) = match name.find('[') {
        // `a[b` (no `]` anywhere after): the `[` is part of the name.
        Some(i) if name[i..].contains(']') => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    if base.is_empty() {
        return None;
    }
    let base: String = base
        .chars()
        .map(|c| if matches!(c, '.' | ' ' | '[') { '_' } else { c })
        .collect();
    let mut path = vec![Some(base)];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        let key = &inner[..close];
        path.push((!key.is_empty()).then(|| key.to_string()));
        if path.len() > MAX_FORM_DEPTH + 1 {
            return None;
        }
        rest = &inner[close + 1..];
    }
    Some(path)
}

impl Request {
    /// The query string as PHP's `$_GET`: `?a[]=1&a[]=2&b[c]=3` gives `a` → `["1", "2"]` and
    /// `b` → `{c: "3"}` ([`FormValue`]; built on each call).
    pub fn query_params(&self) -> FormValue {
        FormValue::from_pairs(self.query().iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The body fields as PHP's `$_POST` (urlencoded or multipart forms; see
    /// [`post_fields`](Request::post_fields)), nested like [`query_params`](Request::query_params).
    pub fn post_params(&self) -> FormValue {
        FormValue::from_pairs(self.post_fields().iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(q: &str) -> FormValue {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        FormValue::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn v(s: &str) -> FormValue {
        FormValue::Value(s.into())
    }

    fn arr(entries: &[(&str, FormValue)]) -> FormValue {
        FormValue::Array(entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn lists_maps_and_nesting() {
        assert_eq!(
            tree("a[]=1&a[]=2&b[c][d]=x&b[c][e]=y&z=9"),
            arr(&[
                ("a", arr(&[("0", v("1")), ("1", v("2"))])),
                ("b", arr(&[("c", arr(&[("d", v("x")), ("e", v("y"))]))])),
                ("z", v("9")),
            ])
        );
    }

    #[test]
    fn php_append_index_follows_the_largest_integer_key() {
        assert_eq!(
            tree("a[5]=x&a[]=y&a[k]=z&a[]=w&a[07]=s"),
            arr(&[(
                "a",
                arr(&[
                    ("5", v("x")),
                    ("6", v("y")),
                    ("k", v("z")),
                    ("7", v("w")),
                    ("07", v("s"))
                ])
            )])
        );
    }

    #[test]
    fn later_fields_replace_earlier_ones() {
        assert_eq!(tree("a=1&a=2"), arr(&[("a", v("2"))]));
        assert_eq!(tree("a=1&a[b]=2"), arr(&[("a", arr(&[("b", v("2"))]))]));
        assert_eq!(tree("a[b]=2&a=1"), arr(&[("a", v("1"))]));
    }

    #[test]
    fn php_name_mangling() {
        // Dots and spaces in the top-level name become `_`, not inside brackets.
        assert_eq!(
            tree("a.b=1&c%20d[e.f]=2"),
            arr(&[("a_b", v("1")), ("c_d", arr(&[("e.f", v("2"))]))])
        );
        // An unclosed `[` is part of the name; text after `]` that is not `[` is ignored.
        assert_eq!(
            tree("a[b=1&c[d]x[e]=2"),
            arr(&[("a_b", v("1")), ("c", arr(&[("d", v("2"))]))])
        );
        // Nameless fields are dropped.
        assert_eq!(tree("[a]=1&=2"), arr(&[]));
    }

    #[test]
    fn depth_is_capped() {
        let deep = format!("a{}=1", "[x]".repeat(MAX_FORM_DEPTH));
        assert!(tree(&deep).get("a").is_some());
        let deeper = format!("a{}=1", "[x]".repeat(MAX_FORM_DEPTH + 1));
        assert_eq!(tree(&deeper), arr(&[]));
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_like_php() {
        assert_eq!(
            tree("a[]=1&a[]=2&b[x]=3&c[1]=4").to_json(),
            serde_json::json!({"a": ["1", "2"], "b": {"x": "3"}, "c": {"1": "4"}})
        );
    }
}
