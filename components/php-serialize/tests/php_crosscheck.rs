//! Cross-check against the real PHP: random values serialized here must come back byte-identical
//! from PHP's `serialize(unserialize(…))`, and random doubles must be spelled as PHP spells them.
//! Skips with a "skipped:" line when `php` is not installed (CI installs php-cli).

use std::io::Write;
use std::process::{Command, Stdio};

use php_serialize::{Array, Value, serialize, unserialize};

/// xorshift64*: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_bytes(r: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"5",
        b"05",
        b"-3",
        b"-0",
        b"x",
        b"\"",
        b";",
        b"}",
        b"\0",
        b"\n",
        "é".as_bytes(),
        b"\xff",
        b"9223372036854775808",
        b"-9223372036854775808",
        b" 1",
    ];
    let n = r.below(4);
    (0..n)
        .flat_map(|_| PIECES[r.below(PIECES.len() as u64) as usize].to_vec())
        .collect()
}

fn random_float(r: &mut Rng) -> f64 {
    match r.below(6) {
        0 => f64::from_bits(r.next()),
        1 => (r.below(2_000_000) as f64 - 1_000_000.0) / 100.0,
        2 => (r.next() as f64) * 10f64.powi(r.below(40) as i32 - 20),
        3 => [0.1, -0.0, 1e15, 1e16, 1e17, 1e-4, 1e-5, f64::MAX, 5e-324][r.below(9) as usize],
        4 => r.below(1 << 53) as f64 + 0.25,
        _ => f64::from_bits(r.next() >> r.below(12)),
    }
}

fn random_value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 3 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(r.below(2) == 1),
        2 => Value::Int(r.next() as i64 >> r.below(64)),
        3 | 4 => {
            let f = random_float(r);
            // PHP spells NAN without a sign; keep its bit pattern canonical.
            Value::Float(if f.is_nan() { f64::NAN } else { f })
        }
        5 => Value::Bytes(random_bytes(r)),
        _ => {
            let mut a = Array::new();
            for _ in 0..r.below(5) {
                if r.below(2) == 0 {
                    a.push(random_value(r, depth + 1));
                } else {
                    a.insert(random_bytes(r), random_value(r, depth + 1));
                }
            }
            Value::Array(a)
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn php(script: &str, input: &str) -> Option<String> {
    let mut child = Command::new("php")
        .args(["-d", "serialize_precision=-1", "-r", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    // Feed stdin from a thread: PHP answers while it reads, and both pipes would fill up.
    let mut stdin = child.stdin.take()?;
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().ok()?;
    writer.join().expect("writer thread").ok()?;
    assert!(out.status.success(), "php failed");
    Some(String::from_utf8(out.stdout).expect("php output is hex"))
}

fn php_available() -> bool {
    let ok = Command::new("php").arg("-v").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "php-cli is missing under CI (.ci/run installs it)"
        );
        println!("skipped: no php on PATH");
    }
    ok
}

#[test]
fn random_values_match_php_serialize() {
    if !php_available() {
        return;
    }
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let values: Vec<Vec<u8>> = (0..3000).map(|_| serialize(&random_value(&mut r, 0))).collect();
    let input: String = values.iter().map(|v| hex(v) + "\n").collect();
    let out = php(
        r#"while (($l = fgets(STDIN)) !== false) { echo bin2hex(serialize(unserialize(hex2bin(trim($l))))), "\n"; }"#,
        &input,
    )
    .expect("run php");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), values.len());
    for (ours, theirs) in values.iter().zip(lines) {
        assert_eq!(hex(ours), theirs, "ours {:?}", String::from_utf8_lossy(ours));
        // And PHP's bytes decode here to the same encoding.
        let back = unserialize(ours).expect("our own output decodes");
        assert_eq!(&serialize(&back), ours);
    }
}

#[test]
fn random_doubles_spelled_like_php() {
    if !php_available() {
        return;
    }
    let mut r = Rng(0x1234_5678_9abc_def1);
    let floats: Vec<f64> = (0..20000).map(|_| random_float(&mut r)).collect();
    let input: String = floats.iter().map(|f| hex(&f.to_bits().to_be_bytes()) + "\n").collect();
    // 'E' = big-endian double: PHP serializes the exact bit pattern.
    let out = php(
        r#"while (($l = fgets(STDIN)) !== false) { echo serialize(unpack('E', hex2bin(trim($l)))[1]), "\n"; }"#,
        &input,
    )
    .expect("run php");
    assert_eq!(out.lines().count(), floats.len());
    let mut mismatches = Vec::new();
    for (f, theirs) in floats.iter().zip(out.lines()) {
        let ours = String::from_utf8(serialize(&Value::Float(*f))).unwrap();
        if ours != theirs {
            mismatches.push(format!("{:#x}: ours {ours} php {theirs}", f.to_bits()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
}
