//! A safe, byte-exact codec for the plain-data subset of PHP's `serialize()`.
//!
//! Workerman's Channel, GlobalData and GatewayWorker components put PHP `serialize()` output on
//! the wire. This crate reads and writes exactly that subset — null, bool, int, float, byte
//! strings and (nested) arrays with int/string keys — so Rust peers interoperate with PHP ones
//! byte for byte (GlobalData's `cas` compares an md5 of these bytes).
//!
//! ```text
//! N;                 null            b:1;  b:0;           bool
//! i:-42;             int             d:0.1;  d:1.0E+20;   float (shortest round-trip)
//! s:5:"hello";       string (LEN counts bytes; contents raw, never escaped)
//! a:2:{i:0;s:1:"a";s:1:"k";N;}       array: COUNT, then key value pairs, no ';' after '}'
//! ```
//!
//! * [`serialize`] writes what PHP 8.2 writes (`serialize_precision = -1`), including its key
//!   normalisation (`"5"` → `i:5;`) and float spellings (`d:1;`, `d:-0;`, `d:1.5E-7;`, `INF`).
//! * [`unserialize`] accepts what PHP 8.2's `unserialize` accepts for plain data (lenient number
//!   forms, trailing bytes ignored) and rejects objects (`O:` `C:`), enums (`E:`), references
//!   (`r:` `R:`) and malformed input with an [`Error`]. It never panics, and nesting depth is
//!   bounded ([`Options::max_depth`]).
//! * With the `serde` feature (on by default): [`to_vec`], [`from_slice`], [`to_value`],
//!   [`from_value`].
//!
//! ```
//! use php_serialize::{serialize, unserialize, Array, Value};
//! let mut a = Array::new();
//! a.insert("type", "event");
//! a.insert("id", 7);
//! let bytes = serialize(&Value::Array(a));
//! assert_eq!(bytes, br#"a:2:{s:4:"type";s:5:"event";s:2:"id";i:7;}"#);
//! assert_eq!(unserialize(&bytes).unwrap().as_array().unwrap().get_str("id"), Some(&Value::Int(7)));
//! ```

mod de;
mod error;
mod ser;
#[cfg(feature = "serde")]
mod serde_bridge;
mod value;

pub use de::{Options, unserialize, unserialize_prefix, unserialize_with};
pub use error::{Error, Reason};
pub use ser::{serialize, serialize_into, write_float};
#[cfg(feature = "serde")]
pub use serde_bridge::{from_slice, from_value, to_value, to_vec};
pub use value::{Array, Key, Value};
