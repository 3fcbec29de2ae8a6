//! Load generator for GlobalData increments: `CONNS` concurrent loops, each awaiting one
//! increment at a time, for `DURATION` seconds; prints `ops`, `ops/s` and this process's CPU time.
//!
//! ```text
//! gd_load MODE URL CONNS DURATION
//!   MODE gd        GlobalDataClient::increment("bench:hits", 1) against URL
//!                  (globaldata://127.0.0.1:2207 or redis://127.0.0.1:6379/0)
//!   MODE incr      raw Redis INCR bench:raw on URL (redis://…), one multiplexed connection
//! ```
//! Output (one line): `mode=gd ops=123456 ops_per_s=20576 client_cpu_ms=5400`.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use workerman_global_data::GlobalDataClient;

fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 =
        f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0) + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks * 10 // CLK_TCK = 100
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: gd_load gd|incr URL CONNS DURATION_SECS");
        std::process::exit(2);
    }
    let (mode, url) = (args[1].clone(), args[2].clone());
    let conns: usize = args[3].parse().expect("CONNS");
    let duration = Duration::from_secs(args[4].parse().expect("DURATION"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = cpu_ms();
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        match mode.as_str() {
            "gd" => {
                let client = GlobalDataClient::new(&url).expect("url");
                client.set("bench:hits", 0).await.expect("backend reachable");
                for _ in 0..conns {
                    let (client, ops, stop) = (client.clone(), ops.clone(), stop.clone());
                    tasks.push(tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            client.increment("bench:hits", 1).await.expect("increment");
                            ops.fetch_add(1, Ordering::Relaxed);
                        }
                    }));
                }
            }
            "incr" => {
                let redis = redis::Client::open(url.as_str()).expect("url");
                let con = redis.get_multiplexed_async_connection().await.expect("redis");
                for _ in 0..conns {
                    let (mut con, ops, stop) = (con.clone(), ops.clone(), stop.clone());
                    tasks.push(tokio::spawn(async move {
                        while !stop.load(Ordering::Relaxed) {
                            let _: i64 = redis::cmd("INCR")
                                .arg("bench:raw")
                                .query_async(&mut con)
                                .await
                                .expect("INCR");
                            ops.fetch_add(1, Ordering::Relaxed);
                        }
                    }));
                }
            }
            other => panic!("unknown mode {other}"),
        }
        tokio::time::sleep(duration).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let n = ops.load(Ordering::Relaxed);
    println!(
        "mode={mode} ops={n} ops_per_s={:.0} client_cpu_ms={}",
        n as f64 / secs,
        cpu_ms() - cpu0
    );
}
