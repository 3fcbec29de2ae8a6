//! The serde bridge: user types to and from PHP `serialize()` bytes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Data {
    id: i64,
    tags: Vec<String>,
    price: f64,
    ok: bool,
    none: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Publish {
    r#type: String,
    channels: Vec<String>,
    data: Data,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Shape {
    Dot,
    Circle(f64),
    Rect { w: u32, h: u32 },
    Pair(i8, i8),
}

const V12: &[u8] = br#"a:3:{s:4:"type";s:7:"publish";s:8:"channels";a:1:{i:0;s:4:"news";}s:4:"data";a:5:{s:2:"id";i:7;s:4:"tags";a:2:{i:0;s:1:"a";i:1;s:1:"b";}s:5:"price";d:9.99;s:2:"ok";b:0;s:4:"none";N;}}"#;

fn sample() -> Publish {
    Publish {
        r#type: "publish".into(),
        channels: vec!["news".into()],
        data: Data {
            id: 7,
            tags: vec!["a".into(), "b".into()],
            price: 9.99,
            ok: false,
            none: None,
        },
    }
}

#[test]
fn struct_matches_vector_12() {
    assert_eq!(php_serialize::to_vec(&sample()).unwrap(), V12);
    let back: Publish = php_serialize::from_slice(V12).unwrap();
    assert_eq!(back, sample());
}

#[test]
fn enums_round_trip() {
    for (s, bytes) in [
        (Shape::Dot, &br#"s:3:"Dot";"#[..]),
        (Shape::Circle(1.5), br#"a:1:{s:6:"Circle";d:1.5;}"#),
        (
            Shape::Rect { w: 2, h: 3 },
            br#"a:1:{s:4:"Rect";a:2:{s:1:"w";i:2;s:1:"h";i:3;}}"#,
        ),
        (Shape::Pair(-1, 1), br#"a:1:{s:4:"Pair";a:2:{i:0;i:-1;i:1;i:1;}}"#),
    ] {
        assert_eq!(php_serialize::to_vec(&s).unwrap(), bytes);
        let back: Shape = php_serialize::from_slice(bytes).unwrap();
        assert_eq!(back, s);
    }
}

#[test]
fn numeric_string_map_keys_read_back_as_strings() {
    let mut m = HashMap::new();
    m.insert("5".to_string(), 1);
    let bytes = php_serialize::to_vec(&m).unwrap();
    assert_eq!(bytes, b"a:1:{i:5;i:1;}");
    let back: HashMap<String, i32> = php_serialize::from_slice(&bytes).unwrap();
    assert_eq!(back, m);
    let ints: HashMap<i64, i32> = php_serialize::from_slice(&bytes).unwrap();
    assert_eq!(ints.get(&5), Some(&1));
}

#[test]
fn values_and_bytes() {
    let v = php_serialize::unserialize(V12).unwrap();
    let again = php_serialize::to_value(&v).unwrap();
    assert_eq!(php_serialize::serialize(&again), V12);
    // A PHP string that is not UTF-8 reads as bytes.
    let b: Vec<u8> = php_serialize::from_slice(b"s:2:\"\xff\x00\";").unwrap();
    assert_eq!(b, vec![0xff, 0]);
    // A PHP int read as a float, and a list read as a tuple.
    let f: f64 = php_serialize::from_slice(b"i:3;").unwrap();
    assert_eq!(f, 3.0);
    let t: (i32, String) = php_serialize::from_slice(br#"a:2:{i:0;i:1;i:1;s:1:"x";}"#).unwrap();
    assert_eq!(t, (1, "x".to_string()));
}

#[test]
fn errors_not_panics() {
    assert!(php_serialize::to_vec(&u64::MAX).is_err());
    assert!(php_serialize::from_slice::<Publish>(b"i:1;").is_err());
    assert!(php_serialize::from_slice::<u8>(b"i:300;").is_err());
    assert!(php_serialize::from_slice::<Publish>(br#"O:8:"stdClass":0:{}"#).is_err());
}
