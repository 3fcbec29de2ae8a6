//! `status [-d] [--json]` and `connections`: ask the master for a report and render it.
//!
//! The CLI gives the master the order ([`Order::Status`], [`Order::Connections`]); the master asks
//! every worker process over its report channel, waits up to `REPORT_WAIT` for answers, and writes a report
//! file, which the CLI polls for. A worker that did not answer in time is shown `[busy]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::unistd::Pid;

use crate::order::Order;
use crate::report::{ConnectionsReport, Counters, REPORT_WAIT, StatusReport};
use crate::settings;

/// Gives the master the order and waits for the report file it writes.
fn request(master: Pid, order: Order, file: PathBuf) -> Option<String> {
    let _ = fs::remove_file(&file);
    order.send(master).ok()?;
    let deadline = Instant::now() + REPORT_WAIT + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(text) = fs::read_to_string(&file) {
            let _ = fs::remove_file(&file);
            return Some(text);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn pad(s: impl std::fmt::Display, width: usize) -> String {
    format!("{:<width$}", s.to_string())
}

fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    let s = format!("{mb:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}M")
}

const GLOBAL: &str =
    "----------------------------------------------GLOBAL STATUS----------------------------------------------------";
const PROCESS: &str =
    "----------------------------------------------PROCESS STATUS---------------------------------------------------";

/// Renders the seed's layout. `qps` maps pid → requests per second (live mode), else zeros.
fn render(s: &StatusReport, qps: &BTreeMap<i32, u64>) -> String {
    let mut out = String::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let up = now.saturating_sub(s.start_time);
    let started = settings::format_time(UNIX_EPOCH + Duration::from_secs(s.start_time));
    let load = if s.load.is_empty() {
        "-".to_string()
    } else {
        s.load.join(", ")
    };
    let _ = writeln!(out, "{GLOBAL}");
    let _ = writeln!(
        out,
        "{}{}",
        pad(format!("workerman-rs version:{}", s.version), 36),
        format_args!("rustc version:{}", s.rustc)
    );
    let _ = writeln!(
        out,
        "start time:{started}   run {} days {} hours",
        up / 86_400,
        up % 86_400 / 3600
    );
    let _ = writeln!(
        out,
        "{}event-loop:tokio current_thread",
        pad(format!("load average: {load}"), 36)
    );
    let _ = writeln!(out, "{} workers       {} processes", s.workers.len(), s.processes.len());
    let name_w = s.workers.iter().map(|w| w.name.len()).max().unwrap_or(0).max(11) + 1;
    let listen_w = s.workers.iter().map(|w| w.listen.len()).max().unwrap_or(0).max(9) + 1;
    let _ = writeln!(
        out,
        "{}{}exit_count",
        pad("worker_name", name_w),
        pad("exit_status", 17)
    );
    for w in &s.workers {
        if w.exits.is_empty() {
            let _ = writeln!(out, "{}{}{}", pad(&w.name, name_w), pad(0, 17), 0);
        }
        for (status, count) in &w.exits {
            let _ = writeln!(out, "{}{}{}", pad(&w.name, name_w), pad(status, 17), count);
        }
    }
    let _ = writeln!(out, "{PROCESS}");
    let _ = writeln!(
        out,
        "{}{}{}{}{}{}{}{}{}status",
        pad("pid", 8),
        pad("memory", 8),
        pad("listening", listen_w),
        pad("worker_name", name_w),
        pad("connections", 12),
        pad("send_fail", 10),
        pad("timers", 8),
        pad("total_request", 14),
        pad("qps", 7)
    );
    let mut sum = Counters::default();
    let mut sum_qps = 0;
    for p in &s.processes {
        let w = s.workers.get(p.worker);
        let (name, listen) = w.map(|w| (w.name.as_str(), w.listen.as_str())).unwrap_or(("?", "?"));
        match &p.counters {
            Some(r) => {
                let q = qps.get(&p.pid).copied().unwrap_or(0);
                sum_qps += q;
                sum.memory += r.memory;
                sum.connections += r.connections;
                sum.send_fail += r.send_fail;
                sum.timers += r.timers;
                sum.total_request += r.total_request;
                let _ = writeln!(
                    out,
                    "{}{}{}{}{}{}{}{}{}[idle]",
                    pad(p.pid, 8),
                    pad(megabytes(r.memory), 8),
                    pad(listen, listen_w),
                    pad(name, name_w),
                    pad(r.connections, 12),
                    pad(r.send_fail, 10),
                    pad(r.timers, 8),
                    pad(r.total_request, 14),
                    pad(q, 7)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{}{}{}{}{}{}{}{}{}[busy]",
                    pad(p.pid, 8),
                    pad("N/A", 8),
                    pad(listen, listen_w),
                    pad(name, name_w),
                    pad("N/A", 12),
                    pad("N/A", 10),
                    pad("N/A", 8),
                    pad("N/A", 14),
                    pad("N/A", 7)
                );
            }
        }
    }
    let _ = writeln!(out, "{PROCESS}");
    let _ = writeln!(
        out,
        "{}{}{}{}{}{}{}{}{}[Summary]",
        pad("Summary", 8),
        pad(megabytes(sum.memory), 8),
        pad("-", listen_w),
        pad("-", name_w),
        pad(sum.connections, 12),
        pad(sum.send_fail, 10),
        pad(sum.timers, 8),
        pad(sum.total_request, 14),
        pad(sum_qps, 7)
    );
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_json(s: &StatusReport) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let workers: Vec<String> = s
        .workers
        .iter()
        .map(|w| {
            let exits: Vec<String> = w.exits.iter().map(|(st, n)| format!("\"{st}\":{n}")).collect();
            format!(
                "{{\"name\":{},\"listen\":{},\"count\":{},\"exits\":{{{}}}}}",
                json_str(&w.name),
                json_str(&w.listen),
                w.count,
                exits.join(",")
            )
        })
        .collect();
    let procs: Vec<String> = s
        .processes
        .iter()
        .map(|p| {
            let name = s.workers.get(p.worker).map(|w| w.name.as_str()).unwrap_or("?");
            match &p.counters {
                Some(r) => format!(
                    "{{\"pid\":{},\"worker\":{},\"id\":{},\"status\":\"idle\",\"memory\":{},\"connections\":{},\"send_fail\":{},\"timers\":{},\"total_request\":{},\"protocol_errors\":{}}}",
                    p.pid,
                    json_str(name),
                    p.id,
                    r.memory,
                    r.connections,
                    r.send_fail,
                    r.timers,
                    r.total_request,
                    r.protocol_errors
                ),
                None => format!("{{\"pid\":{},\"worker\":{},\"id\":{},\"status\":\"busy\"}}", p.pid, json_str(name), p.id),
            }
        })
        .collect();
    let load: Vec<String> = s.load.iter().filter(|l| l.parse::<f64>().is_ok()).cloned().collect();
    format!(
        "{{\"version\":{},\"rustc\":{},\"event_loop\":\"tokio current_thread\",\"daemon\":{},\"start_time\":{},\"uptime_seconds\":{},\"load_average\":[{}],\"workers\":[{}],\"processes\":[{}]}}\n",
        json_str(&s.version),
        json_str(&s.rustc),
        s.daemon,
        s.start_time,
        now.saturating_sub(s.start_time),
        load.join(","),
        workers.join(","),
        procs.join(",")
    )
}

/// `status [-d] [--json]`. Returns the exit code.
pub(crate) fn status(master: Pid, live: bool, json: bool) -> i32 {
    let file = settings::status_file();
    let mut previous: BTreeMap<i32, (u64, Instant)> = BTreeMap::new();
    loop {
        let Some(text) = request(master, Order::Status, file.clone()) else {
            eprintln!("Workerman[{}] the master did not answer", settings::start_name());
            return super::exit::FAILED;
        };
        let s = StatusReport::decode(&text);
        if json {
            print!("{}", render_json(&s));
            return super::exit::OK;
        }
        let mut qps = BTreeMap::new();
        let now = Instant::now();
        for p in &s.processes {
            if let Some(r) = &p.counters {
                if let Some((before, at)) = previous.get(&p.pid) {
                    let secs = now.duration_since(*at).as_secs_f64().max(0.001);
                    qps.insert(
                        p.pid,
                        (r.total_request.saturating_sub(*before) as f64 / secs).round() as u64,
                    );
                }
                previous.insert(p.pid, (r.total_request, now));
            }
        }
        if !live {
            let mode = if s.daemon { "DAEMON" } else { "DEBUG" };
            print!("Start worker in {mode} mode.\n{}", render(&s, &qps));
            return super::exit::OK;
        }
        print!(
            "\x1b[H\x1b[2J\x1b(B\x1b[m{}\nPress Ctrl+C to quit.\n\n",
            render(&s, &qps)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn human_bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let v = n as f64;
    if v > K * K * K * K {
        format!("{:.1}TB", v / (K * K * K * K))
    } else if v > K * K * K {
        format!("{:.1}GB", v / (K * K * K))
    } else if v > K * K {
        format!("{:.1}MB", v / (K * K))
    } else if v > K {
        format!("{:.1}KB", v / K)
    } else {
        format!("{n}B")
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}..", s.chars().take(max - 2).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `connections`: every connection of every worker process (SPEC §10.3 columns).
pub(crate) fn connections(master: Pid) -> i32 {
    let file = settings::connections_file();
    let Some(text) = request(master, Order::Connections, file) else {
        eprintln!("Workerman[{}] the master did not answer", settings::start_name());
        return super::exit::FAILED;
    };
    let mut out = String::new();
    let _ = writeln!(out, "{} WORKERMAN CONNECTION STATUS {}", "-".repeat(69), "-".repeat(80));
    let _ = writeln!(
        out,
        "PID      Worker          CID       Trans   Protocol        ipv4   ipv6   Recv-Q       Send-Q       Bytes-R      Bytes-W       Status         Local Address          Foreign Address"
    );
    let report = ConnectionsReport::decode(&text);
    for (pid, r) in &report.rows {
        let v6 = r.remote.starts_with('[');
        let v4 = !v6 && r.remote.parse::<std::net::SocketAddr>().is_ok();
        let _ = writeln!(
            out,
            "{}{}{}{}{}{}{}{}{}{}{} {} {} {}",
            pad(pid, 9),
            pad(cut(&r.worker, 14), 16),
            pad(r.id, 10),
            pad(&r.transport, 8),
            pad(cut(&r.protocol, 15), 16),
            pad(if v4 { " 1" } else { " 0" }, 7),
            pad(if v6 { " 1" } else { " 0" }, 7),
            pad(human_bytes(r.recv_q), 13),
            pad(human_bytes(r.send_q), 13),
            pad(human_bytes(r.bytes_read), 13),
            pad(human_bytes(r.bytes_written), 13),
            pad(&r.status, 14),
            pad(&r.local, 22),
            pad(&r.remote, 22)
        );
    }
    for pid in &report.busy {
        let _ = writeln!(out, "{} [busy: did not answer within {REPORT_WAIT:?}]", pad(pid, 9));
    }
    print!("{out}");
    super::exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "meta\tstart_time\t100\nmeta\tversion\t0.1.0\nmeta\trustc\t1.95.0\nmeta\tdaemon\t1\nmeta\tload\t0.5 0.25 0.1\n\
worker\t0\tweb\thttp://0.0.0.0:80\t2\t0:3,9:1\n\
proc\t10\t0\t0\tidle\t2097152\t5\t1\t2\t30\t0\nproc\t11\t0\t1\tbusy\n";

    #[test]
    fn renders_seed_layout() {
        let s = StatusReport::decode(SAMPLE);
        assert_eq!(s.processes.len(), 2);
        let text = render(&s, &BTreeMap::new());
        assert!(text.contains("GLOBAL STATUS"));
        assert!(text.contains("1 workers       2 processes"));
        assert!(text.contains("web         9                1"), "{text}");
        let idle = text.lines().find(|l| l.starts_with("10 ")).unwrap();
        assert!(idle.starts_with("10      2M      http://0.0.0.0:80 web         5           1         2       30            0      [idle]"), "{idle}");
        let busy = text.lines().find(|l| l.starts_with("11 ")).unwrap();
        assert!(busy.ends_with("[busy]") && busy.contains("N/A"));
        assert!(text.lines().last().unwrap().starts_with("Summary 2M      -"));
    }

    #[test]
    fn json_is_well_formed() {
        let s = StatusReport::decode(SAMPLE);
        let j = render_json(&s);
        assert!(j.contains("\"exits\":{\"0\":3,\"9\":1}"), "{j}");
        assert!(j.contains("{\"pid\":11,\"worker\":\"web\",\"id\":1,\"status\":\"busy\"}"));
        assert!(j.contains("\"load_average\":[0.5,0.25,0.1]"));
    }
}
