//! Answering `status` and `connections`: ask every worker process over its control channel,
//! wait up to `REPORT_WAIT`, then write the report file the CLI is polling for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nix::unistd::Pid;

use crate::control::{REPORT_WAIT, Report, clean};
use crate::settings;

/// The master's end of one worker process's control channel.
pub(super) struct Control {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Control {
    pub fn new(stream: UnixStream) -> io::Result<Control> {
        stream.set_nonblocking(true)?;
        Ok(Control {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    pub fn send(&mut self, line: &str) {
        // A full socket buffer means the worker is not reading: it will show as busy.
        let _ = self.stream.write_all(line.as_bytes());
    }

    /// Reads what arrived; returns complete lines. `Err` when the worker closed its end.
    pub fn read_lines(&mut self) -> io::Result<Vec<String>> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let mut lines = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        Ok(lines)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Status,
    Connections,
}

/// A request in progress.
pub(super) struct Collect {
    pub kind: Kind,
    pub seq: u64,
    pub pending: HashSet<Pid>,
    pub deadline: Instant,
    pub reports: HashMap<Pid, Report>,
    pub conns: Vec<(Pid, String)>,
}

impl Collect {
    pub fn new(kind: Kind, seq: u64, pids: impl IntoIterator<Item = Pid>) -> Collect {
        Collect {
            kind,
            seq,
            pending: pids.into_iter().collect(),
            deadline: Instant::now() + REPORT_WAIT,
            reports: HashMap::new(),
            conns: Vec::new(),
        }
    }

    pub fn request_line(&self) -> String {
        match self.kind {
            Kind::Status => format!("status {}\n", self.seq),
            Kind::Connections => format!("connections {}\n", self.seq),
        }
    }

    /// Takes one line from `pid`; ignores answers to earlier requests.
    pub fn accept(&mut self, pid: Pid, line: &str) {
        let (head, rest) = line.split_once('\t').unwrap_or((line, ""));
        let Some((word, seq)) = head.split_once(' ') else {
            return;
        };
        if seq.parse::<u64>() != Ok(self.seq) {
            return;
        }
        match (self.kind, word) {
            (Kind::Status, "report") => {
                let fields: Vec<&str> = rest.split('\t').collect();
                if let Some(r) = Report::decode(&fields) {
                    self.reports.insert(pid, r);
                    self.pending.remove(&pid);
                }
            }
            (Kind::Connections, "conn") => self.conns.push((pid, rest.to_string())),
            (Kind::Connections, "end") => {
                self.pending.remove(&pid);
            }
            _ => {}
        }
    }

    pub fn done(&self) -> bool {
        self.pending.is_empty() || Instant::now() >= self.deadline
    }
}

/// What the status file says about the service as a whole.
pub(super) struct Overview<'a> {
    pub started: SystemTime,
    pub daemon: bool,
    /// Per worker: name, listen address, count, exit status counts.
    pub workers: Vec<(String, String, usize, &'a BTreeMap<i32, u64>)>,
    /// Per live process: pid, worker index, id.
    pub processes: Vec<(Pid, usize, usize)>,
}

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "- - -".into())
}

pub(super) fn write_status(path: &Path, o: &Overview<'_>, c: &Collect) -> io::Result<()> {
    let mut out = String::new();
    let started = o.started.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    out.push_str(&format!("meta\tstart_time\t{started}\n"));
    out.push_str(&format!("meta\tversion\t{}\n", crate::VERSION));
    out.push_str(&format!("meta\trustc\t{}\n", crate::RUSTC_VERSION));
    out.push_str(&format!("meta\tdaemon\t{}\n", o.daemon as u8));
    out.push_str(&format!("meta\tload\t{}\n", load_average()));
    for (i, (name, listen, count, exits)) in o.workers.iter().enumerate() {
        let exits: Vec<String> = exits.iter().map(|(s, n)| format!("{s}:{n}")).collect();
        out.push_str(&format!(
            "worker\t{i}\t{}\t{}\t{count}\t{}\n",
            clean(name),
            clean(listen),
            exits.join(",")
        ));
    }
    for (pid, index, id) in &o.processes {
        match c.reports.get(pid) {
            Some(r) => out.push_str(&format!("proc\t{pid}\t{index}\t{id}\tidle\t{}\n", r.encode())),
            None => out.push_str(&format!("proc\t{pid}\t{index}\t{id}\tbusy\n")),
        }
    }
    write_atomically(path, &out)
}

pub(super) fn write_connections(path: &Path, c: &Collect) -> io::Result<()> {
    let mut out = String::new();
    for (pid, row) in &c.conns {
        out.push_str(&format!("conn\t{pid}\t{row}\n"));
    }
    for pid in &c.pending {
        out.push_str(&format!("busy\t{pid}\n"));
    }
    write_atomically(path, &out)
}

impl super::Master {
    pub(super) fn start_collect(&mut self, kind: Kind) {
        if self.collect.as_ref().is_some_and(|c| c.kind == kind) {
            return;
        }
        if let Some(previous) = self.collect.take() {
            self.finish_collect(previous);
        }
        self.seq += 1;
        let c = Collect::new(kind, self.seq, self.live());
        let line = c.request_line();
        for pid in &c.pending {
            if let Some(control) = self.controls.get_mut(pid) {
                control.send(&line);
            }
        }
        self.collect = Some(c);
    }

    pub(super) fn finish_collect(&mut self, c: Collect) {
        let result = match c.kind {
            Kind::Status => {
                let workers = self
                    .groups
                    .iter()
                    .map(|g| {
                        let listen = g
                            .spec
                            .address
                            .as_ref()
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "none".into());
                        (g.spec.name.clone(), listen, g.spec.count, &g.exits)
                    })
                    .collect();
                let mut processes: Vec<(Pid, usize, usize)> = Vec::new();
                for (gi, g) in self.groups.iter().enumerate() {
                    for (si, slot) in g.slots.iter().enumerate() {
                        if let Some(pid) = slot.pid {
                            processes.push((pid, gi, si));
                        }
                    }
                }
                processes.sort();
                let overview = Overview {
                    started: self.started,
                    daemon: self.daemon,
                    workers,
                    processes,
                };
                write_status(&crate::control::status_file(&self.pid_file), &overview, &c)
            }
            Kind::Connections => write_connections(&crate::control::connections_file(&self.pid_file), &c),
        };
        if let Err(e) = result {
            settings::log(&format!("Workerman[{}] cannot write the report: {e}", self.name));
        }
    }
}
