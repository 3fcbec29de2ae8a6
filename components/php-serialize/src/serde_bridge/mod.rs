//! The serde bridge (feature `serde`): user types to and from PHP `serialize()` bytes.
//!
//! | Rust | PHP |
//! |---|---|
//! | struct, map | array with string (or int) keys, in field order |
//! | `Vec`, tuple, slice | list `a:n:{i:0;…}` |
//! | `None`, `()` | `N;` |
//! | `String`, `&str`, `char`, serde bytes | `s:` |
//! | unit enum variant | its name as `s:` |
//! | other enum variants | `{"Variant": content}` |
//!
//! Map keys follow PHP's normalisation: a `String` key `"5"` is stored as `i:5;` and reads back
//! as `"5"`. A `u64` above `i64::MAX` is an error (PHP has no such int).

mod from_value;
mod to_value;

pub use from_value::{from_slice, from_value};
pub use to_value::{to_value, to_vec};
