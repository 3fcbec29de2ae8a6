//! Channel publish → deliver: one publisher, `--subs` subscriber processes.
//!
//! ```text
//! channel_bench <mode> <url> [--subs 4] [--count 100000] [--size 32]
//!   mode: client    ChannelClient publishes and subscribes (channel://... or redis://...)
//!         raw-redis the redis crate directly: pipelined PUBLISH, plain SUBSCRIBE
//! ```
//! Subscribers are child processes (this binary, `sub` mode). The publisher first sends warm-up
//! events until every subscriber saw one, then `--count` events as fast as the backend takes
//! them, each carrying its send time. Each subscriber reports how many it got, when the first
//! and the last arrived, and its latency percentiles; the publisher prints
//! `RESULT mode= delivered= secs= rate= p50_us= p99_us= lost= client_us_per_ev=` where rate is
//! delivered events/s over all subscribers, from the first publish to the last delivery, and
//! client_us_per_ev the CPU (user + system, from `/proc/self/stat`) the publisher spent from its
//! first publish to the end plus what each subscriber spent from its warm-up event to its last
//! delivery, per delivered event.
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use workerman_channel::php_serialize::{self, Array};
use workerman_channel::{ChannelClient, ChannelError, Value};

const EVENT: &str = "bench";
/// The Redis channel our Redis backend uses for `EVENT`.
const RAW_CHANNEL: &str = "workerman-channel:ev:bench";

/// CPU time (user + system) of this process so far, in clock ticks (1/100 s on Linux).
fn cpu_ticks() -> i64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split(' ').collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `[seq, sent_ns, padding]`; seq -1 is a warm-up event.
fn payload(seq: i64, pad: &str) -> Value {
    let mut a = Array::new();
    a.push(Value::Int(seq));
    a.push(Value::Int(now_ns()));
    a.push(Value::from(pad));
    Value::Array(a)
}

fn local<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!(
            "usage: channel_bench <client|raw-redis|sub-client|sub-raw-redis> <url> [--subs N] [--count N] [--size N]"
        );
        std::process::exit(2);
    }
    let (mode, url) = (args[0].as_str(), args[1].clone());
    let count = arg(&args, "--count", 100_000);
    match mode {
        "sub-client" | "sub-raw-redis" => local(subscriber(mode == "sub-raw-redis", url, count)),
        "client" | "raw-redis" => publisher(mode, &url, &args, count),
        _ => {
            eprintln!("unknown mode {mode}");
            std::process::exit(2);
        }
    }
}

/// Subscriber statistics, printed as one line.
#[derive(Default)]
struct Seen {
    first: i64,
    last: i64,
    lat_ns: Vec<i64>,
    ready: bool,
    cpu0: i64,
}

fn record(seen: &RefCell<Seen>, data: &Value) {
    let Some(list) = data.as_array() else { return };
    let mut it = list.values();
    let (Some(seq), Some(sent)) = (it.next().and_then(Value::as_int), it.next().and_then(Value::as_int)) else {
        return;
    };
    let mut s = seen.borrow_mut();
    if seq < 0 {
        if !s.ready {
            s.ready = true;
            s.cpu0 = cpu_ticks();
            println!("ready");
            let _ = std::io::stdout().flush();
        }
        return;
    }
    let now = now_ns();
    if s.lat_ns.is_empty() {
        s.first = now;
    }
    s.last = now;
    s.lat_ns.push(now - sent);
}

async fn subscriber(raw: bool, url: String, count: usize) {
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let _client = if raw {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(RAW_CHANNEL).await.unwrap();
        let s = seen.clone();
        workerman::spawn(async move {
            let mut stream = pubsub.into_on_message();
            while let Some(msg) = stream.next().await {
                if let Ok(v) = php_serialize::unserialize(msg.get_payload_bytes()) {
                    record(&s, &v);
                }
            }
        });
        None
    } else {
        let c = ChannelClient::connect(&url).unwrap();
        let s = seen.clone();
        c.on(EVENT, move |v| record(&s, &v));
        Some(c)
    };
    // Done when all arrived, or 3 s after the last one (lost events).
    let mut idle = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (n, last) = {
            let s = seen.borrow();
            (s.lat_ns.len(), s.last)
        };
        if n >= count {
            break;
        }
        if n > 0 && now_ns() - last > 3_000_000_000 {
            break;
        }
        idle += 1;
        if n == 0 && idle > 600 {
            break;
        }
    }
    let mut s = seen.borrow_mut();
    s.lat_ns.sort_unstable();
    let pct = |p: f64| {
        s.lat_ns
            .get(((s.lat_ns.len() as f64 * p) as usize).min(s.lat_ns.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let cpu = cpu_ticks() - s.cpu0;
    println!(
        "DONE {} {} {} {} {} {cpu}",
        s.lat_ns.len(),
        s.first,
        s.last,
        pct(0.5),
        pct(0.99)
    );
}

fn publisher(mode: &str, url: &str, args: &[String], count: usize) {
    let subs = arg(args, "--subs", 4);
    let pad = "x".repeat(arg(args, "--size", 32));
    let exe = std::env::current_exe().unwrap();
    let sub_mode = if mode == "raw-redis" {
        "sub-raw-redis"
    } else {
        "sub-client"
    };
    let mut children = Vec::new();
    let mut outs = Vec::new();
    for _ in 0..subs {
        let mut child = Command::new(&exe)
            .args([sub_mode, url, "--count", &count.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        outs.push(BufReader::new(child.stdout.take().unwrap()));
        children.push(child);
    }
    let raw = mode == "raw-redis";
    let url = url.to_string();
    // Warm-up on a separate thread's view: subscribers print "ready" on their first warm-up event.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut lines: Vec<_> = outs.into_iter().map(|out| out.lines()).collect();
    let readers = std::thread::spawn(move || {
        for l in lines.iter_mut() {
            assert_eq!(l.next().unwrap().unwrap(), "ready");
        }
        tx.send(()).unwrap();
        lines
            .iter_mut()
            .map(|l| {
                loop {
                    let line = l.next().unwrap().unwrap();
                    if let Some(rest) = line.strip_prefix("DONE ") {
                        break rest.split(' ').map(|x| x.parse::<i64>().unwrap()).collect::<Vec<i64>>();
                    }
                }
            })
            .collect::<Vec<_>>()
    });
    let mut pub_cpu0 = 0;
    let pub_cpu0_ref = &mut pub_cpu0;
    let start_ns = local(async move {
        if raw {
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            while rx.try_recv().is_err() {
                let _: () = redis::cmd("PUBLISH")
                    .arg(RAW_CHANNEL)
                    .arg(php_serialize::serialize(&payload(-1, &pad)))
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let start = now_ns();
            *pub_cpu0_ref = cpu_ticks();
            let mut seq = 0;
            while seq < count {
                let mut pipe = redis::pipe();
                for _ in 0..1024.min(count - seq) {
                    pipe.cmd("PUBLISH")
                        .arg(RAW_CHANNEL)
                        .arg(php_serialize::serialize(&payload(seq as i64, &pad)))
                        .ignore();
                    seq += 1;
                }
                let _: () = pipe.query_async(&mut conn).await.unwrap();
            }
            start
        } else {
            let c = ChannelClient::connect(&url).unwrap();
            while rx.try_recv().is_err() {
                c.publish(EVENT, payload(-1, &pad)).unwrap();
                c.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let start = now_ns();
            *pub_cpu0_ref = cpu_ticks();
            let mut seq = 0;
            while seq < count {
                match c.publish(EVENT, payload(seq as i64, &pad)) {
                    Ok(()) => seq += 1,
                    Err(ChannelError::Backlog { .. }) => c.flush().await,
                    Err(e) => panic!("{e}"),
                }
                // Let the writer run now and then, as an application's loop would.
                if seq % 256 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            c.flush().await;
            start
        }
    });
    let pub_cpu = cpu_ticks() - pub_cpu0;
    let results = readers.join().unwrap();
    for mut child in children {
        let _ = child.wait();
    }
    let delivered: i64 = results.iter().map(|r| r[0]).sum();
    let last = results.iter().map(|r| r[2]).max().unwrap_or(start_ns);
    let secs = (last - start_ns) as f64 / 1e9;
    let p50 = results.iter().map(|r| r[3]).max().unwrap_or(0) as f64 / 1e3;
    let p99 = results.iter().map(|r| r[4]).max().unwrap_or(0) as f64 / 1e3;
    let lost = (count * subs) as i64 - delivered;
    let client_ticks = pub_cpu + results.iter().map(|r| r[5]).sum::<i64>();
    let client_us = client_ticks as f64 * 1e4 / delivered.max(1) as f64;
    println!(
        "RESULT mode={mode} delivered={delivered} secs={secs:.3} rate={:.0} p50_us={p50:.0} p99_us={p99:.0} lost={lost} client_us_per_ev={client_us:.2}",
        delivered as f64 / secs
    );
}
