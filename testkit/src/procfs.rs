//! Processes and sockets as Linux shows them in /proc: liveness, children, who holds a port.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// The live (non-zombie) children of `pid`, sorted.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        if fields[0] != "Z" && fields[1].parse::<i32>() == Ok(pid) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Whether the child `pid` of the master `master` is a started worker process: past its exec
/// and its start-up, which renames it `wm NAME`. A child the master has just forked still
/// carries the master's name, and one between exec and start-up its executable's.
pub fn started_worker(master: i32, pid: i32) -> bool {
    let comm = |p: i32| fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
    let name = comm(pid);
    name.starts_with("wm ") && name != comm(master)
}

/// Sends signal number `sig` to `pid` (through kill(1): the tests need no libc for this).
pub fn kill(pid: i32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Whether TCP and UDP `port` on all addresses can be bound now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() && std::net::UdpSocket::bind(("0.0.0.0", port)).is_ok()
}

/// Who holds local `port` (a TCP listener or a bound UDP socket), as `pid N (command line)`
/// entries; `["an unknown process"]` when the socket's owner is not visible.
pub fn port_holder(port: u16) -> Vec<String> {
    let mut inodes = Vec::new();
    for (table, listen_only) in [
        ("/proc/net/tcp", true),
        ("/proc/net/tcp6", true),
        ("/proc/net/udp", false),
        ("/proc/net/udp6", false),
    ] {
        for line in fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let local = f[1].rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            // TCP state 0A is LISTEN.
            if local == Some(port) && (!listen_only || f[3] == "0A") && f[9] != "0" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    let found = holders(|target| inodes.iter().any(|i| i == target));
    if found.is_empty() {
        vec!["an unknown process".into()]
    } else {
        found
    }
}

/// The processes holding the lock file `path` (from /proc/locks), as `pid N (command line)`.
pub(crate) fn lock_holders(path: &Path) -> Vec<String> {
    let Ok(meta) = fs::metadata(path) else {
        return Vec::new();
    };
    let ino = meta.ino().to_string();
    fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let i = f.iter().position(|w| *w == "FLOCK")?;
            let pid = f.get(i + 3)?;
            let dev_ino = f.get(i + 4)?;
            if dev_ino.rsplit(':').next() != Some(ino.as_str()) {
                return None;
            }
            describe(pid.parse().ok()?)
        })
        .collect()
}

/// Every process with an open descriptor whose link target satisfies `matches`.
fn holders(matches: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let holds = fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| matches(&t.to_string_lossy())));
        if holds {
            if let Some(d) = describe(pid) {
                out.push(d);
            }
        }
    }
    out
}

/// `pid N (command line)`.
fn describe(pid: i32) -> Option<String> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmd: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(format!("pid {pid} ({})", cmd.join(" ")))
}
