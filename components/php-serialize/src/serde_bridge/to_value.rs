//! `Serialize` → [`Value`]: structs and maps become arrays with string/int keys, sequences become
//! lists, `None` and `()` become `N;`, enums use serde's externally tagged form.

use serde::ser::{self, Serialize};

use crate::error::Error;
use crate::value::{Array, Key, Value};

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Error {
        Error::message(msg)
    }
}

/// Converts any `Serialize` type to a [`Value`].
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Event { id: u32, tags: Vec<&'static str> }
/// let v = php_serialize::to_value(&Event { id: 7, tags: vec!["a"] }).unwrap();
/// assert_eq!(php_serialize::serialize(&v), br#"a:2:{s:2:"id";i:7;s:4:"tags";a:1:{i:0;s:1:"a";}}"#);
/// ```
pub fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, Error> {
    v.serialize(ValueSerializer)
}

/// Serializes any `Serialize` type as PHP `serialize()` bytes.
pub fn to_vec<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, Error> {
    Ok(crate::serialize(&to_value(v)?))
}

struct ValueSerializer;

fn single(key: &'static str, v: Value) -> Value {
    let mut a = Array::new();
    a.insert(key, v);
    Value::Array(a)
}

fn u64_value(n: u64) -> Result<Value, Error> {
    i64::try_from(n)
        .map(Value::Int)
        .map_err(|_| Error::message(format!("integer {n} does not fit a PHP int")))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(Value::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        u64_value(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::from(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::from(v))
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, Error> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Value, Error> {
        Ok(Value::from(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        Ok(single(variant, v.serialize(ValueSerializer)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder::new(len, None))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder::new(Some(len), None))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder::new(Some(len), None))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder::new(Some(len), Some(variant)))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::new(None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::new(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::new(Some(variant)))
    }
}

/// Builds a list; with a variant name, wraps it as `{variant: list}`.
#[doc(hidden)]
pub struct SeqBuilder {
    items: Array,
    variant: Option<&'static str>,
}

impl SeqBuilder {
    fn new(len: Option<usize>, variant: Option<&'static str>) -> SeqBuilder {
        SeqBuilder {
            items: Array::with_capacity(len.unwrap_or(0).min(4096)),
            variant,
        }
    }
    fn add<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.items.push(v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn done(self) -> Result<Value, Error> {
        let list = Value::Array(self.items);
        Ok(match self.variant {
            Some(name) => single(name, list),
            None => list,
        })
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.add(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.add(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.add(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeTupleVariant for SeqBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.add(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

/// Builds an array with keys; with a variant name, wraps it as `{variant: array}`.
#[doc(hidden)]
pub struct MapBuilder {
    entries: Array,
    pending: Option<Key>,
    variant: Option<&'static str>,
}

impl MapBuilder {
    fn new(variant: Option<&'static str>) -> MapBuilder {
        MapBuilder {
            entries: Array::new(),
            pending: None,
            variant,
        }
    }
    fn done(self) -> Result<Value, Error> {
        let map = Value::Array(self.entries);
        Ok(match self.variant {
            Some(name) => single(name, map),
            None => map,
        })
    }
}

/// A map key as PHP would store it: ints and strings as they are, `true`/`false` as 1/0, `null`
/// as `""`, floats truncated (COMPONENTS-WIRE.md §1.2).
fn key_of(v: Value) -> Result<Key, Error> {
    Ok(match v {
        Value::Int(n) => Key::Int(n),
        Value::Bytes(b) => Key::Bytes(b),
        Value::Bool(b) => Key::Int(b.into()),
        Value::Null => Key::Bytes(Vec::new()),
        Value::Float(f) if f.is_finite() => Key::Int(f as i64),
        other => {
            return Err(Error::message(format!(
                "a PHP array key cannot be {}",
                other.type_name()
            )));
        }
    })
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.pending = Some(key_of(k.serialize(ValueSerializer)?)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self
            .pending
            .take()
            .ok_or_else(|| Error::message("map value without a key"))?;
        self.entries.insert(key, v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, v: &T) -> Result<(), Error> {
        self.entries.insert(name, v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, name: &'static str, v: &T) -> Result<(), Error> {
        self.entries.insert(name, v.serialize(ValueSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl Serialize for Value {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::SerializeMap;
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(text) => s.serialize_str(text),
                Err(_) => s.serialize_bytes(b),
            },
            Value::Array(a) if a.is_list() => s.collect_seq(a.values()),
            Value::Array(a) => {
                let mut m = s.serialize_map(Some(a.len()))?;
                for (k, v) in a.iter() {
                    match k {
                        Key::Int(n) => m.serialize_entry(n, v)?,
                        Key::Bytes(b) => match std::str::from_utf8(b) {
                            Ok(text) => m.serialize_entry(text, v)?,
                            Err(_) => m.serialize_entry(&Value::Bytes(b.clone()), v)?,
                        },
                    }
                }
                m.end()
            }
        }
    }
}
