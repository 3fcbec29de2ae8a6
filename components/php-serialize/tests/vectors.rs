//! COMPONENTS-WIRE.md §1.5 test vectors (PHP 8.2 `serialize`), plus §1.2–1.4 cases captured from
//! PHP: each must serialize byte-exactly and decode back to the same value.

use php_serialize::{Array, Key, Value, serialize, unserialize};

fn list(values: Vec<Value>) -> Value {
    Value::Array(Array::from_values(values))
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    Value::Array(pairs.into_iter().collect())
}

fn check(v: &Value, want: &[u8]) {
    let got = serialize(v);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "serialize"
    );
    let back = unserialize(want).expect("unserialize");
    assert_eq!(serialize(&back), want, "re-serialize");
}

#[test]
fn v1_null_true_false() {
    check(&Value::Null, b"N;");
    check(&Value::Bool(true), b"b:1;");
    check(&Value::Bool(false), b"b:0;");
}

#[test]
fn v2_negative_int() {
    check(&Value::Int(-42), b"i:-42;");
}

#[test]
fn v3_floats() {
    check(
        &list(vec![0.1.into(), 1.0.into(), 1e20.into(), 1.5e-7.into()]),
        b"a:4:{i:0;d:0.1;i:1;d:1;i:2;d:1.0E+20;i:3;d:1.5E-7;}",
    );
}

#[test]
fn v4_inf_nan() {
    let v = list(vec![f64::INFINITY.into(), f64::NEG_INFINITY.into(), f64::NAN.into()]);
    let want = b"a:3:{i:0;d:INF;i:1;d:-INF;i:2;d:NAN;}";
    assert_eq!(serialize(&v), want);
    let back = unserialize(want).unwrap();
    let a = back.as_array().unwrap();
    assert_eq!(a.get(&Key::Int(0)), Some(&Value::Float(f64::INFINITY)));
    assert!(a.get(&Key::Int(2)).unwrap().as_float().unwrap().is_nan());
    assert_eq!(serialize(&back), want);
}

#[test]
fn v5_utf8_string_counts_bytes() {
    check(&Value::from("héllo 世界"), "s:13:\"héllo 世界\";".as_bytes());
}

#[test]
fn v6_raw_quote_newline_nul() {
    check(&Value::from("a\"b;c\n\0d"), b"s:8:\"a\"b;c\n\0d\";");
}

#[test]
fn v7_empty_array() {
    check(&Value::Array(Array::new()), b"a:0:{}");
}

#[test]
fn v8_list() {
    check(
        &list(vec!["a".into(), "b".into()]),
        br#"a:2:{i:0;s:1:"a";i:1;s:1:"b";}"#,
    );
}

#[test]
fn v9_map() {
    check(
        &map(vec![("type", "event".into()), ("id", 7.into())]),
        br#"a:2:{s:4:"type";s:5:"event";s:2:"id";i:7;}"#,
    );
}

#[test]
fn v10_numeric_string_keys_normalised() {
    let mut a = Array::new();
    a.insert("5", "x");
    a.insert("05", "y");
    a.insert(7, "z");
    check(&Value::Array(a), br#"a:3:{i:5;s:1:"x";s:2:"05";s:1:"y";i:7;s:1:"z";}"#);
}

#[test]
fn v11_next_int_key() {
    let mut a = Array::new();
    a.insert(5, "x");
    a.insert("k", "y");
    a.push("z");
    check(&Value::Array(a), br#"a:3:{i:5;s:1:"x";s:1:"k";s:1:"y";i:6;s:1:"z";}"#);
}

#[test]
fn v12_nested_publish() {
    let data = map(vec![
        ("id", 7.into()),
        ("tags", list(vec!["a".into(), "b".into()])),
        ("price", 9.99.into()),
        ("ok", false.into()),
        ("none", Value::Null),
    ]);
    let v = map(vec![
        ("type", "publish".into()),
        ("channels", list(vec!["news".into()])),
        ("data", data),
    ]);
    check(
        &v,
        br#"a:3:{s:4:"type";s:7:"publish";s:8:"channels";a:1:{i:0;s:4:"news";}s:4:"data";a:5:{s:2:"id";i:7;s:4:"tags";a:2:{i:0;s:1:"a";i:1;s:1:"b";}s:5:"price";d:9.99;s:2:"ok";b:0;s:4:"none";N;}}"#,
    );
}

#[test]
fn float_table_1_3() {
    for (x, want) in [
        (0.1, "d:0.1;"),
        (1.0, "d:1;"),
        (-0.0, "d:-0;"),
        (0.1 + 0.2, "d:0.30000000000000004;"),
        (0.0001, "d:0.0001;"),
        (1.5e-7, "d:1.5E-7;"),
        (9.99, "d:9.99;"),
        (1e15, "d:1000000000000000;"),
        (1e16, "d:10000000000000000;"),
        (1.2345678901234568e17, "d:1.2345678901234568E+17;"),
        (1e20, "d:1.0E+20;"),
        (1e25, "d:1.0E+25;"),
        (1e-5, "d:1.0E-5;"),
        (5e-324, "d:5.0E-324;"),
        (f64::MAX, "d:1.7976931348623157E+308;"),
        (9.223372036854776e18, "d:9.223372036854776E+18;"),
    ] {
        check(&Value::Float(x), want.as_bytes());
    }
    // -0.0 decodes to a negative zero.
    assert!(unserialize(b"d:-0;").unwrap().as_float().unwrap().is_sign_negative());
}

#[test]
fn keys_from_unserialize_are_normalised() {
    // serialize(unserialize('a:1:{s:1:"5";i:1;}')) is a:1:{i:5;i:1;} in PHP.
    let v = unserialize(br#"a:1:{s:1:"5";i:1;}"#).unwrap();
    assert_eq!(serialize(&v), br#"a:1:{i:5;i:1;}"#);
    // The Channel example of §2.3: canonical re-encoding.
    let v = unserialize(br#"a:2:{s:1:"5";d:1.0;i:1;d:1e20;}"#).unwrap();
    assert_eq!(serialize(&v), br#"a:2:{i:5;d:1;i:1;d:1.0E+20;}"#);
}

#[test]
fn bool_null_float_keys_as_php_stores_them() {
    // [true=>1,false=>2,null=>3] is a:3:{i:1;i:1;i:0;i:2;s:0:"";i:3;} in PHP; our Array takes
    // Key values, and the serde bridge maps bool/null/float keys the same way.
    let mut m = std::collections::BTreeMap::new();
    m.insert(true, 1);
    let v = php_serialize::to_value(&m).unwrap();
    assert_eq!(serialize(&v), b"a:1:{i:1;i:1;}");
}
