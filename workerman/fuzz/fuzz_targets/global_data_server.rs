//! Feeds arbitrary request bodies to the GlobalData server's request handling (what one frame
//! body does): decoding must never panic, a decoded command must run against the store without
//! panicking, and every reply must be valid PHP serialize output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman_global_data::Store;
use workerman_global_data::protocol::{Request, parse_request};

fuzz_target!(|data: &[u8]| {
    let mut store = Store::new();
    // Several bodies in one input, split at 0xff bytes, so sequences of commands are explored.
    for (i, body) in data.split(|&b| b == 0xff).enumerate() {
        match parse_request(body) {
            Request::Ping => {}
            Request::Command(cmd) => {
                let reply = store.execute(cmd, 1000 + i as u64 * 700);
                php_serialize::unserialize_with(
                    &reply,
                    php_serialize::Options {
                        strict: true,
                        ..Default::default()
                    },
                )
                .expect("replies are valid serialize() output");
            }
            Request::Reject { reply, .. } => {
                php_serialize::unserialize(&reply).expect("reject replies decode");
            }
        }
    }
    let snapshot = store.snapshot(10_000);
    Store::from_snapshot(&snapshot, 0).expect("snapshots load");
});
