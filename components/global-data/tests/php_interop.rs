//! Interop with the PHP originals, run by `scripts/globaldata_php_interop.sh` (it needs local
//! copies of the PHP GlobalData and Workerman sources, which the repository does not ship):
//! * `GLOBALDATA_PHP_SRC` set: PHP's `GlobalData\Client` against our server;
//! * `GLOBALDATA_PHP_SERVER` set (host:port of a PHP `GlobalData\Server`): our client against it.
//!
//! Each part prints a "skipped:" line and passes when its variable is unset.

mod support;

use std::process::Command;

use workerman_global_data::{Array, GlobalDataClient, Value};

/// PHP's client doing a bit of everything; prints serialize() of the results.
const PHP_CLIENT: &str = r#"
spl_autoload_register(function ($c) {
    $f = getenv('GLOBALDATA_PHP_SRC') . '/src/' . basename(str_replace('\\', '/', $c)) . '.php';
    if (strpos($c, 'GlobalData\\') === 0 && is_file($f)) require $f;
});
$g = new GlobalData\Client($argv[1]);
$out = [];
$g->counter = 10;
$out[] = $g->increment('counter');
$out[] = $g->increment('counter', 2.5);
$out[] = $g->add('a', [1, 2, 3]);
$out[] = $g->add('a', 'x');
$out[] = $g->cas('a', [1, 2, 3], ['x' => 0.1]);
$out[] = $g->a;
$out[] = isset($g->nothing);
$g->{'5'} = 'five';
$out[] = $g->{'5'};
unset($g->{'5'});
$out[] = $g->{'5'};
$out[] = $g->cas('fresh', null, 1);
$out[] = $g->increment('missing');
$out[] = $g->rust;
$out[] = $g->cas('rust', ['name' => 'ann', 'score' => 1.5, 'tags' => ['a']], 'php was here');
echo serialize($out);
"#;

const EXPECTED: &str = r#"a:13:{i:0;i:11;i:1;d:13.5;i:2;b:1;i:3;b:0;i:4;b:1;i:5;a:1:{s:1:"x";d:0.1;}i:6;b:0;i:7;s:4:"five";i:8;N;i:9;b:1;i:10;b:0;i:11;a:3:{s:4:"name";s:3:"ann";s:5:"score";d:1.5;s:4:"tags";a:1:{i:0;s:1:"a";}}i:12;b:1;}"#;

#[derive(serde::Serialize)]
struct Rusty {
    name: &'static str,
    score: f64,
    tags: Vec<&'static str>,
}

#[tokio::test(flavor = "current_thread")]
async fn php_client_against_our_server() {
    let Some(src) = std::env::var_os("GLOBALDATA_PHP_SRC") else {
        println!("skipped: GLOBALDATA_PHP_SRC unset (run scripts/globaldata_php_interop.sh)");
        return;
    };
    let addr = support::start_server();
    // A value written by Rust, then read and cas-ed by PHP (md5 of PHP's serialize of its array).
    let c = GlobalDataClient::new(&addr.to_string()).unwrap();
    let v = Rusty {
        name: "ann",
        score: 1.5,
        tags: vec!["a"],
    };
    c.set_as("rust", &v).await.unwrap();
    let out = Command::new("php")
        .args(["-r", PHP_CLIENT, "--", &addr.to_string()])
        .env("GLOBALDATA_PHP_SRC", src)
        .output()
        .expect("php");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "php failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, EXPECTED);
    assert_eq!(c.get("rust").await.unwrap(), Value::from("php was here"));
}

#[tokio::test(flavor = "current_thread")]
async fn our_client_against_php_server() {
    let Some(addr) = std::env::var("GLOBALDATA_PHP_SERVER").ok() else {
        println!("skipped: GLOBALDATA_PHP_SERVER unset (run scripts/globaldata_php_interop.sh)");
        return;
    };
    let c = GlobalDataClient::new(&addr).unwrap();
    c.set("counter", 10).await.unwrap();
    assert_eq!(c.increment("counter", 1).await.unwrap(), Some(Value::Int(11)));
    assert_eq!(c.increment("counter", 2.5).await.unwrap(), Some(Value::Float(13.5)));
    c.set("big", i64::MAX).await.unwrap();
    assert_eq!(
        c.increment("big", 1).await.unwrap(),
        Some(Value::Float(9.223372036854776e18))
    );
    assert_eq!(c.increment("missing", 1).await.unwrap(), None);
    assert!(c.add("a", Value::Array(Array::from_values([1, 2, 3]))).await.unwrap());
    assert!(!c.add("a", "x").await.unwrap());
    let list = Value::Array(Array::from_values([1, 2, 3]));
    let mut map = Array::new();
    map.insert("x", 0.1);
    map.insert("5", 1e20);
    assert!(c.cas("a", &list, Value::Array(map.clone())).await.unwrap());
    assert_eq!(c.get("a").await.unwrap(), Value::Array(map.clone()));
    assert_eq!(c.get_raw("a").await.unwrap(), br#"a:2:{s:1:"x";d:0.1;i:5;d:1.0E+20;}"#);
    assert!(c.cas("a", &Value::Array(map), "done").await.unwrap());
    assert!(c.cas("fresh", &Value::Null, 1).await.unwrap());
    c.set(5, "five").await.unwrap();
    assert_eq!(c.get("5").await.unwrap(), Value::from("five"));
    c.delete("5").await.unwrap();
    assert!(!c.exists(5).await.unwrap());
    // 100 concurrent increments, pipelined on one connection to the PHP server.
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.increment("counter", 1).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(c.get("counter").await.unwrap(), Value::Float(113.5));
}
