//! The crate's one error type.

use std::fmt;

/// Why input could not be decoded, or a value could not be converted.
///
/// Decoding errors carry the byte offset where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct Error {
    /// Byte offset into the input (0 for errors that are not about input bytes).
    pub offset: usize,
    /// What was wrong.
    pub reason: Reason,
}

/// The kind of [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A byte that the grammar does not allow here.
    Unexpected(u8),
    /// An object, enum, reference or escaped string (`O:` `C:` `E:` `r:` `R:` `S:`): never
    /// produced from plain data and unsafe to accept.
    Forbidden(u8),
    /// A number that does not parse (bad `b:`, `i:`, `d:` or length).
    BadNumber,
    /// A string's declared length runs past the input or is not followed by `";`.
    BadString,
    /// An array key that is not `i:` or `s:`.
    BadKey,
    /// Arrays nested deeper than the limit.
    TooDeep(usize),
    /// Input that decodes fine but has bytes after the value (strict mode only).
    TrailingBytes,
    /// A serde conversion failed (custom message).
    Message(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UnexpectedEnd => f.write_str("unexpected end of input"),
            Reason::Unexpected(b) => write!(f, "unexpected byte {:?}", char::from(*b)),
            Reason::Forbidden(b) => write!(
                f,
                "forbidden form {:?}: (objects, enums, references are rejected)",
                char::from(*b)
            ),
            Reason::BadNumber => f.write_str("malformed number"),
            Reason::BadString => f.write_str("string length does not match"),
            Reason::BadKey => f.write_str("array key must be an int or a string"),
            Reason::TooDeep(limit) => write!(f, "arrays nested deeper than {limit}"),
            Reason::TrailingBytes => f.write_str("trailing bytes after the value"),
            Reason::Message(m) => f.write_str(m),
        }
    }
}

impl Error {
    pub(crate) fn at(offset: usize, reason: Reason) -> Error {
        Error { offset, reason }
    }

    /// An error with a free-form message (used by the serde bridge).
    pub fn message(msg: impl fmt::Display) -> Error {
        Error::at(0, Reason::Message(msg.to_string()))
    }
}
