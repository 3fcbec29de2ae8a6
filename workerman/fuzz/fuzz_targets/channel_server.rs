//! The Channel server's frame handling: a byte stream cut into `frame` packets as the server
//! cuts them, each body parsed into a command and applied to the server state by one of a few
//! connections (which also open and close), and every delivery the state produces parsed back
//! as a client would. Nothing may panic; bad bodies are refused, never applied.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman_channel::wire::{Command, Delivery, HEADER};
use workerman_channel::{Outcome, State};

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else { return };
    let mut state = State::new((first & 1 == 1).then(|| b"k".to_vec()));
    for id in 0..4 {
        state.open(id);
    }
    while rest.len() >= HEADER + 1 {
        let conn = u64::from(rest[0] % 4);
        let len = u32::from_be_bytes(rest[1..1 + HEADER].try_into().unwrap()) as usize;
        rest = &rest[1 + HEADER..];
        if len < HEADER {
            // The server closes such a connection; a new one takes its place.
            state.close(conn);
            state.open(conn);
            continue;
        }
        let body_len = (len - HEADER).min(rest.len());
        let (body, tail) = rest.split_at(body_len);
        rest = tail;
        let outcome = match Command::parse(body) {
            Ok(cmd) => state.handle(conn, cmd),
            Err(_) => Outcome::Close(String::new()),
        };
        if let Outcome::Close(_) = outcome {
            state.close(conn);
            state.open(conn);
        }
        for (_, out) in state.take_output() {
            let mut buf = &out[..];
            while !buf.is_empty() {
                let n = u32::from_be_bytes(buf[..HEADER].try_into().unwrap()) as usize;
                assert!(n >= HEADER && n <= buf.len(), "a delivery frame is well formed");
                assert!(matches!(Delivery::parse(&buf[HEADER..n]), Ok(Some(_))), "deliveries parse");
                buf = &buf[n..];
            }
        }
    }
});
