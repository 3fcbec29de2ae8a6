//! The master's end of one worker process's report channel (a unix socket pair; the messages
//! are `report.rs`'s `Ask` and `Answer`).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

use crate::report::{Answer, Ask};

pub(super) struct Channel {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Channel {
    pub fn new(stream: UnixStream) -> io::Result<Channel> {
        stream.set_nonblocking(true)?;
        Ok(Channel {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    pub fn send(&mut self, ask: Ask) {
        // A full socket buffer means the worker is not reading: it will show as busy.
        let _ = self.stream.write_all(ask.encode().as_bytes());
    }

    /// Reads what arrived; returns the complete messages (a line it cannot decode is dropped).
    /// `Err` when the worker closed its end.
    pub fn read_answers(&mut self) -> io::Result<Vec<Answer>> {
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
        let mut answers = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            if let Some(a) = Answer::decode(&String::from_utf8_lossy(&line[..line.len() - 1])) {
                answers.push(a);
            }
        }
        Ok(answers)
    }
}
