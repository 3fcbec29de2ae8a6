//! Arbitrary bytes as STOMP frames from a broker: never a panic; a frame decoded from a buffer
//! is decoded the same from exactly its bytes, and never claims more bytes than there are; a
//! decoded frame encodes to bytes that decode back to it (headers, body).
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman_recipes::stomp::{decode, skip_heartbeats};

fuzz_target!(|data: &[u8]| {
    assert!(skip_heartbeats(data) <= data.len());
    if let Ok(Some((frame, n))) = decode(data) {
        assert!(n <= data.len());
        assert_eq!(decode(&data[..n]), Ok(Some((frame.clone(), n))));
        // CONNECT/CONNECTED headers are not escaped: a value ending in CR cannot be written.
        let raw = matches!(frame.command.as_str(), "CONNECT" | "CONNECTED");
        if raw && frame.headers.iter().any(|(_, v)| v.ends_with('\r')) {
            return;
        }
        let wire = frame.encode();
        let (again, used) = decode(&wire).expect("our encoding decodes").expect("complete");
        assert_eq!(used, wire.len());
        assert_eq!(again.command, frame.command);
        assert_eq!(again.body, frame.body);
        // encode() adds content-length for a body; the frame's own headers come first.
        assert_eq!(&again.headers[..frame.headers.len()], &frame.headers[..]);
    }
});
