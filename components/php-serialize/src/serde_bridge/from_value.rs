//! [`Value`] → `Deserialize`: arrays become structs, maps or sequences (values in order), `N;`
//! becomes `None`/`()`, strings become `String` (UTF-8) or bytes.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::error::Error;
use crate::value::{Key, Value};

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Error {
        Error::message(msg)
    }
}

/// Converts a [`Value`] into any `DeserializeOwned` type.
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Event { id: u32, tags: Vec<String> }
/// let v = php_serialize::unserialize(br#"a:2:{s:2:"id";i:7;s:4:"tags";a:1:{i:0;s:1:"a";}}"#).unwrap();
/// let e: Event = php_serialize::from_value(v).unwrap();
/// assert_eq!(e, Event { id: 7, tags: vec!["a".into()] });
/// ```
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    T::deserialize(v)
}

/// Decodes PHP `serialize()` bytes into any `Deserialize` type (via [`Value`], so types that
/// borrow `&str` from the input are not supported; use `String`).
pub fn from_slice<'de, T: de::Deserialize<'de>>(input: &'de [u8]) -> Result<T, Error> {
    T::deserialize(crate::unserialize(input)?)
}

impl<'de> IntoDeserializer<'de, Error> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

fn bytes_visit<'de, V: Visitor<'de>>(b: Vec<u8>, visitor: V) -> Result<V::Value, Error> {
    match String::from_utf8(b) {
        Ok(s) => visitor.visit_string(s),
        Err(e) => visitor.visit_byte_buf(e.into_bytes()),
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(n) => visitor.visit_i64(n),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Bytes(b) => bytes_visit(b, visitor),
            Value::Array(a) if a.is_list() => {
                visitor.visit_seq(de::value::SeqDeserializer::new(a.into_iter().map(|(_, v)| v)))
            }
            Value::Array(a) => visitor.visit_map(de::value::MapDeserializer::new(
                a.into_iter().map(|(k, v)| (KeyDeserializer(k), v)),
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_none(),
            v => visitor.visit_some(v),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Array(a) => visitor.visit_seq(de::value::SeqDeserializer::new(a.into_iter().map(|(_, v)| v))),
            // A PHP string read as a sequence (e.g. `Vec<u8>`): its bytes.
            Value::Bytes(b) => visitor.visit_seq(de::value::SeqDeserializer::new(b.into_iter())),
            v => v.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Array(a) => visitor.visit_map(de::value::MapDeserializer::new(
                a.into_iter().map(|(k, v)| (KeyDeserializer(k), v)),
            )),
            v => v.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            v => v.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::Null => visitor.visit_unit(),
            v => v.deserialize_any(visitor),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::Bytes(b) => {
                let name = String::from_utf8(b).map_err(|_| Error::message("enum variant is not UTF-8"))?;
                visitor.visit_enum(name.into_deserializer())
            }
            Value::Array(a) if a.len() == 1 => {
                let (k, v) = a.into_iter().next().ok_or_else(|| Error::message("empty enum"))?;
                let name = String::from_utf8(k.to_bytes()).map_err(|_| Error::message("enum variant is not UTF-8"))?;
                visitor.visit_enum(EnumAccess { name, value: v })
            }
            other => Err(Error::message(format!(
                "expected an enum (string or one-entry array), got {}",
                other.type_name()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string identifier ignored_any
    }
}

/// A map key: an int key reads as an int or as its decimal text, so `HashMap<String, _>` and
/// `HashMap<i64, _>` both work whatever PHP's normalisation made of the key.
struct KeyDeserializer(Key);

impl<'de> IntoDeserializer<'de, Error> for KeyDeserializer {
    type Deserializer = KeyDeserializer;
    fn into_deserializer(self) -> KeyDeserializer {
        self
    }
}

impl<'de> de::Deserializer<'de> for KeyDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Key::Int(n) => visitor.visit_i64(n),
            Key::Bytes(b) => bytes_visit(b, visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        bytes_visit(self.0.to_bytes(), visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct enum ignored_any
    }
}

struct EnumAccess {
    name: String,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = Error;
    type Variant = Value;
    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Value), Error> {
        let name: de::value::StringDeserializer<Error> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Value {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        match self {
            Value::Null => Ok(()),
            other => Err(Error::message(format!("unit variant holds {}", other.type_name()))),
        }
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a PHP-serializable value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("integer {v} does not fit a PHP int")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut a = crate::Array::new();
        while let Some(v) = seq.next_element::<Value>()? {
            a.push(v);
        }
        Ok(Value::Array(a))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut a = crate::Array::new();
        while let Some((k, v)) = map.next_entry::<Value, Value>()? {
            let key = match k {
                Value::Int(n) => Key::Int(n),
                Value::Bytes(b) => Key::Bytes(b),
                Value::Bool(b) => Key::Int(b.into()),
                Value::Null => Key::Bytes(Vec::new()),
                Value::Float(f) if f.is_finite() => Key::Int(f as i64),
                other => {
                    return Err(de::Error::custom(format!(
                        "a PHP array key cannot be {}",
                        other.type_name()
                    )));
                }
            };
            a.insert(key, v);
        }
        Ok(Value::Array(a))
    }
}
