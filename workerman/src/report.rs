//! What `status` and `connections` report, as typed values with their encode and decode, used by
//! every end: a worker process encodes its [`Answer`]s, the master decodes them and encodes a
//! [`StatusReport`] or [`ConnectionsReport`] into a file, the CLI decodes that file and prints it.
//!
//! The channel between the master and each worker process is a unix socket pair (its fd is
//! passed in [`ENV_CHANNEL_FD`]) carrying one line per message:
//!
//! ```text
//! master → worker   status <seq>            worker → master   report <seq> <counters>
//!                   connections <seq>                         conn <seq> <row> … end <seq>
//!                                                             retire <reason>
//! ```
//! Fields are tab-separated; text fields never contain tabs or newlines ([`clean`]). A worker
//! answers from its event loop, so a worker stuck in a blocking call does not answer: the master
//! waits [`REPORT_WAIT`] and then reports it as busy.

use std::time::Duration;

/// How long the master waits for worker processes' answers before calling them busy.
pub const REPORT_WAIT: Duration = Duration::from_millis(1000);

/// Environment variable carrying the worker's end of the channel.
pub(crate) const ENV_CHANNEL_FD: &str = "WORKERMAN_CONTROL_FD";

/// Replaces tabs and line breaks so a field survives the line format.
pub(crate) fn clean(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// A worker process's counters, one `proc` row of `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub memory: u64,
    pub connections: u64,
    pub send_fail: u64,
    pub timers: u64,
    pub total_request: u64,
    pub protocol_errors: u64,
}

impl Counters {
    /// The counters of this process now.
    pub fn now() -> Counters {
        let s = crate::stats::snapshot();
        Counters {
            memory: rss_bytes(),
            connections: s.connections,
            send_fail: s.send_fail,
            timers: s.timers,
            total_request: s.total_request,
            protocol_errors: s.protocol_errors,
        }
    }

    fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.memory, self.connections, self.send_fail, self.timers, self.total_request, self.protocol_errors
        )
    }

    fn decode(fields: &[&str]) -> Option<Counters> {
        let n = |i: usize| fields.get(i)?.parse::<u64>().ok();
        Some(Counters {
            memory: n(0)?,
            connections: n(1)?,
            send_fail: n(2)?,
            timers: n(3)?,
            total_request: n(4)?,
            protocol_errors: n(5)?,
        })
    }
}

/// One connection, one row of `connections`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConnRow {
    pub worker: String,
    pub id: u64,
    pub transport: String,
    pub protocol: String,
    pub recv_q: u64,
    pub send_q: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub status: String,
    pub local: String,
    pub remote: String,
}

impl ConnRow {
    fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            clean(&self.worker),
            self.id,
            clean(&self.transport),
            clean(&self.protocol),
            self.recv_q,
            self.send_q,
            self.bytes_read,
            self.bytes_written,
            clean(&self.status),
            clean(&self.local),
            clean(&self.remote)
        )
    }

    fn decode(f: &[&str]) -> Option<ConnRow> {
        let [
            worker,
            id,
            transport,
            protocol,
            recv_q,
            send_q,
            read,
            written,
            status,
            local,
            remote,
        ] = f
        else {
            return None;
        };
        let n = |s: &str| s.parse::<u64>().ok();
        Some(ConnRow {
            worker: worker.to_string(),
            id: n(id)?,
            transport: transport.to_string(),
            protocol: protocol.to_string(),
            recv_q: n(recv_q)?,
            send_q: n(send_q)?,
            bytes_read: n(read)?,
            bytes_written: n(written)?,
            status: status.to_string(),
            local: local.to_string(),
            remote: remote.to_string(),
        })
    }
}

/// A request from the master to a worker process; `seq` pairs answers with their request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    Status { seq: u64 },
    Connections { seq: u64 },
}

impl Ask {
    /// One line, with its newline.
    pub fn encode(&self) -> String {
        match self {
            Ask::Status { seq } => format!("status {seq}\n"),
            Ask::Connections { seq } => format!("connections {seq}\n"),
        }
    }

    /// A line without its newline.
    pub fn decode(line: &str) -> Option<Ask> {
        let (word, seq) = line.split_once(' ')?;
        let seq = seq.parse().ok()?;
        match word {
            "status" => Some(Ask::Status { seq }),
            "connections" => Some(Ask::Connections { seq }),
            _ => None,
        }
    }
}

/// A message from a worker process to the master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The answer to [`Ask::Status`].
    Status { seq: u64, counters: Counters },
    /// One connection, in answer to [`Ask::Connections`]...
    Conn { seq: u64, row: ConnRow },
    /// ...and the end of that answer.
    End { seq: u64 },
    /// This process is about to retire (a limit, `Worker::stop_all`): the master starts its
    /// replacement now.
    Retire { reason: String },
}

impl Answer {
    /// One line, with its newline.
    pub fn encode(&self) -> String {
        match self {
            Answer::Status { seq, counters } => format!("report {seq}\t{}\n", counters.encode()),
            Answer::Conn { seq, row } => format!("conn {seq}\t{}\n", row.encode()),
            Answer::End { seq } => format!("end {seq}\n"),
            Answer::Retire { reason } => format!("retire {}\n", clean(reason)),
        }
    }

    /// A line without its newline.
    pub fn decode(line: &str) -> Option<Answer> {
        if let Some(reason) = line.strip_prefix("retire ") {
            return Some(Answer::Retire {
                reason: reason.to_string(),
            });
        }
        let (head, rest) = line.split_once('\t').unwrap_or((line, ""));
        let (word, seq) = head.split_once(' ')?;
        let seq = seq.parse().ok()?;
        let fields: Vec<&str> = rest.split('\t').collect();
        match word {
            "report" => Some(Answer::Status {
                seq,
                counters: Counters::decode(&fields)?,
            }),
            "conn" => Some(Answer::Conn {
                seq,
                row: ConnRow::decode(&fields)?,
            }),
            "end" => Some(Answer::End { seq }),
            _ => None,
        }
    }
}

/// The status report the master writes for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StatusReport {
    /// Unix seconds.
    pub start_time: u64,
    pub version: String,
    pub rustc: String,
    pub daemon: bool,
    /// The three load averages, `-` each when unknown.
    pub load: Vec<String>,
    pub workers: Vec<WorkerRow>,
    pub processes: Vec<ProcessRow>,
}

/// A worker (a group of processes) in the status report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WorkerRow {
    pub name: String,
    pub listen: String,
    pub count: usize,
    /// Raw wait status → how many processes exited with it.
    pub exits: Vec<(i32, u64)>,
}

/// A live process in the status report; no counters when it did not answer in time (busy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcessRow {
    pub pid: i32,
    /// Index into [`StatusReport::workers`].
    pub worker: usize,
    pub id: usize,
    pub counters: Option<Counters>,
}

impl StatusReport {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("meta\tstart_time\t{}\n", self.start_time));
        out.push_str(&format!("meta\tversion\t{}\n", clean(&self.version)));
        out.push_str(&format!("meta\trustc\t{}\n", clean(&self.rustc)));
        out.push_str(&format!("meta\tdaemon\t{}\n", self.daemon as u8));
        out.push_str(&format!("meta\tload\t{}\n", clean(&self.load.join(" "))));
        for (i, w) in self.workers.iter().enumerate() {
            let exits: Vec<String> = w.exits.iter().map(|(s, n)| format!("{s}:{n}")).collect();
            out.push_str(&format!(
                "worker\t{i}\t{}\t{}\t{}\t{}\n",
                clean(&w.name),
                clean(&w.listen),
                w.count,
                exits.join(",")
            ));
        }
        for p in &self.processes {
            match &p.counters {
                Some(c) => out.push_str(&format!(
                    "proc\t{}\t{}\t{}\tidle\t{}\n",
                    p.pid,
                    p.worker,
                    p.id,
                    c.encode()
                )),
                None => out.push_str(&format!("proc\t{}\t{}\t{}\tbusy\n", p.pid, p.worker, p.id)),
            }
        }
        out
    }

    /// Lenient: a line it does not understand is skipped.
    pub fn decode(text: &str) -> StatusReport {
        let mut s = StatusReport::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["meta", "start_time", v] => s.start_time = v.parse().unwrap_or(0),
                ["meta", "version", v] => s.version = v.to_string(),
                ["meta", "rustc", v] => s.rustc = v.to_string(),
                ["meta", "daemon", v] => s.daemon = *v == "1",
                ["meta", "load", v] => s.load = v.split(' ').map(str::to_string).collect(),
                ["worker", _, name, listen, count, exits] => s.workers.push(WorkerRow {
                    name: name.to_string(),
                    listen: listen.to_string(),
                    count: count.parse().unwrap_or(0),
                    exits: exits
                        .split(',')
                        .filter_map(|e| e.split_once(':'))
                        .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                        .collect(),
                }),
                ["proc", pid, worker, id, state, rest @ ..] => s.processes.push(ProcessRow {
                    pid: pid.parse().unwrap_or(0),
                    worker: worker.parse().unwrap_or(0),
                    id: id.parse().unwrap_or(0),
                    counters: if *state == "idle" { Counters::decode(rest) } else { None },
                }),
                _ => {}
            }
        }
        s
    }
}

/// The connections report the master writes for `connections`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConnectionsReport {
    /// Every connection of every process that answered, with the process's pid.
    pub rows: Vec<(i32, ConnRow)>,
    /// The processes that did not answer in time.
    pub busy: Vec<i32>,
}

impl ConnectionsReport {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (pid, row) in &self.rows {
            out.push_str(&format!("conn\t{pid}\t{}\n", row.encode()));
        }
        for pid in &self.busy {
            out.push_str(&format!("busy\t{pid}\n"));
        }
        out
    }

    /// Lenient: a line it does not understand is skipped.
    pub fn decode(text: &str) -> ConnectionsReport {
        let mut r = ConnectionsReport::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["conn", pid, row @ ..] => {
                    if let (Ok(pid), Some(row)) = (pid.parse(), ConnRow::decode(row)) {
                        r.rows.push((pid, row));
                    }
                }
                ["busy", pid] => {
                    if let Ok(pid) = pid.parse() {
                        r.busy.push(pid);
                    }
                }
                _ => {}
            }
        }
        r
    }
}

/// Resident memory of this process in bytes (VmRSS), 0 if unknown.
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ConnRow {
        ConnRow {
            worker: "web\tname".into(),
            id: 7,
            transport: "tcp".into(),
            protocol: "http".into(),
            recv_q: 1,
            send_q: 2,
            bytes_read: 3,
            bytes_written: 4,
            status: "ESTABLISHED".into(),
            local: "127.0.0.1:80".into(),
            remote: "127.0.0.1:5000".into(),
        }
    }

    #[test]
    fn channel_messages_round_trip() {
        for ask in [Ask::Status { seq: 3 }, Ask::Connections { seq: 4 }] {
            let line = ask.encode();
            assert_eq!(Ask::decode(line.trim_end_matches('\n')), Some(ask));
        }
        let counters = Counters {
            memory: 1,
            connections: 2,
            send_fail: 3,
            timers: 4,
            total_request: 5,
            protocol_errors: 6,
        };
        let mut cleaned = row();
        cleaned.worker = "web name".into();
        for (answer, expected) in [
            (
                Answer::Status {
                    seq: 1,
                    counters: counters.clone(),
                },
                None,
            ),
            (
                Answer::Conn { seq: 1, row: row() },
                Some(Answer::Conn { seq: 1, row: cleaned }),
            ),
            (Answer::End { seq: 1 }, None),
            (
                Answer::Retire {
                    reason: "max\nrequests".into(),
                },
                Some(Answer::Retire {
                    reason: "max requests".into(),
                }),
            ),
        ] {
            let line = answer.encode();
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            assert_eq!(
                Answer::decode(line.trim_end_matches('\n')),
                Some(expected.unwrap_or(answer))
            );
        }
        assert_eq!(Answer::decode("report x\t1"), None);
        assert_eq!(Answer::decode("report 1\t1\t2"), None);
    }

    #[test]
    fn report_files_round_trip() {
        let status = StatusReport {
            start_time: 100,
            version: "0.1.0".into(),
            rustc: "1.95.0".into(),
            daemon: true,
            load: vec!["0.5".into(), "0.25".into(), "0.1".into()],
            workers: vec![
                WorkerRow {
                    name: "web".into(),
                    listen: "http://0.0.0.0:80".into(),
                    count: 2,
                    exits: vec![(0, 3), (9, 1)],
                },
                WorkerRow {
                    name: "tick".into(),
                    listen: "none".into(),
                    count: 1,
                    exits: vec![],
                },
            ],
            processes: vec![
                ProcessRow {
                    pid: 10,
                    worker: 0,
                    id: 0,
                    counters: Some(Counters {
                        memory: 2097152,
                        ..Counters::default()
                    }),
                },
                ProcessRow {
                    pid: 11,
                    worker: 0,
                    id: 1,
                    counters: None,
                },
            ],
        };
        assert_eq!(StatusReport::decode(&status.encode()), status);
        let conns = ConnectionsReport {
            rows: vec![(
                10,
                ConnRow {
                    worker: "web".into(),
                    ..row()
                },
            )],
            busy: vec![11],
        };
        assert_eq!(ConnectionsReport::decode(&conns.encode()), conns);
    }
}
