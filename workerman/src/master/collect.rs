//! Answering `status` and `connections`: ask every worker process over its report channel,
//! wait up to `REPORT_WAIT`, then write the report file the CLI is polling for.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Instant, UNIX_EPOCH};

use nix::unistd::Pid;

use crate::report::{
    Answer, Ask, ConnRow, ConnectionsReport, Counters, ProcessRow, REPORT_WAIT, StatusReport, WorkerRow,
};
use crate::settings;

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
    pub counters: HashMap<Pid, Counters>,
    pub conns: Vec<(Pid, ConnRow)>,
}

impl Collect {
    pub fn new(kind: Kind, seq: u64, pids: impl IntoIterator<Item = Pid>) -> Collect {
        Collect {
            kind,
            seq,
            pending: pids.into_iter().collect(),
            deadline: Instant::now() + REPORT_WAIT,
            counters: HashMap::new(),
            conns: Vec::new(),
        }
    }

    pub fn ask(&self) -> Ask {
        match self.kind {
            Kind::Status => Ask::Status { seq: self.seq },
            Kind::Connections => Ask::Connections { seq: self.seq },
        }
    }

    /// Takes one answer from `pid`; ignores answers to earlier requests.
    pub fn accept(&mut self, pid: Pid, answer: Answer) {
        match (self.kind, answer) {
            (Kind::Status, Answer::Status { seq, counters }) if seq == self.seq => {
                self.counters.insert(pid, counters);
                self.pending.remove(&pid);
            }
            (Kind::Connections, Answer::Conn { seq, row }) if seq == self.seq => self.conns.push((pid, row)),
            (Kind::Connections, Answer::End { seq }) if seq == self.seq => {
                self.pending.remove(&pid);
            }
            _ => {}
        }
    }

    pub fn done(&self) -> bool {
        self.pending.is_empty() || Instant::now() >= self.deadline
    }
}

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

fn load_average() -> Vec<String> {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).map(str::to_string).collect())
        .unwrap_or_else(|_| vec!["-".into(); 3])
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
        let ask = c.ask();
        for pid in &c.pending {
            if let Some(channel) = self.channels.get_mut(pid) {
                channel.send(ask);
            }
        }
        self.collect = Some(c);
    }

    pub(super) fn finish_collect(&mut self, c: Collect) {
        let result = match c.kind {
            Kind::Status => {
                let path = settings::status_file();
                write_atomically(&path, &self.status_report(&c).encode())
            }
            Kind::Connections => {
                let mut busy: Vec<i32> = c.pending.iter().map(|p| p.as_raw()).collect();
                busy.sort();
                let report = ConnectionsReport {
                    rows: c.conns.into_iter().map(|(pid, row)| (pid.as_raw(), row)).collect(),
                    busy,
                };
                let path = settings::connections_file();
                write_atomically(&path, &report.encode())
            }
        };
        if let Err(e) = result {
            settings::log(&format!("Workerman[{}] cannot write the report: {e}", self.name));
        }
    }

    fn status_report(&self, c: &Collect) -> StatusReport {
        let workers = self
            .groups
            .iter()
            .map(|g| WorkerRow {
                name: g.spec.name.clone(),
                listen: g
                    .spec
                    .address
                    .as_ref()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "none".into()),
                count: g.spec.count,
                exits: g.exits.iter().map(|(s, n)| (*s, *n)).collect(),
            })
            .collect();
        let mut processes: Vec<ProcessRow> = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for (si, slot) in g.slots.iter().enumerate() {
                if let Some(pid) = slot.pid {
                    processes.push(ProcessRow {
                        pid: pid.as_raw(),
                        worker: gi,
                        id: si,
                        counters: c.counters.get(&pid).cloned(),
                    });
                }
            }
        }
        processes.sort_by_key(|p| (p.pid, p.worker, p.id));
        StatusReport {
            start_time: self
                .started
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            version: crate::VERSION.to_string(),
            rustc: crate::RUSTC_VERSION.to_string(),
            daemon: self.daemon,
            load: load_average(),
            workers,
            processes,
        }
    }
}
