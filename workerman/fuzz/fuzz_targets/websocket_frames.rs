//! Feeds a valid handshake followed by arbitrary bytes, cut at an arbitrary point, through the
//! `websocket` protocol exactly as a connection does (with and without permessage-deflate): it
//! must never panic, and the cut must not change what is delivered or whether it fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::websocket::WebSocket;
use workerman::protocol::testing;

const PLAIN: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const DEFLATE: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, body)) = data.split_first() else { return };
    let head = if ctl & 1 == 0 { PLAIN } else { DEFLATE };
    let stream = [head, body].concat();
    let cut = head.len() + ((ctl >> 1) as usize).min(body.len());
    let (a, b) = stream.split_at(cut);
    let ws = WebSocket::new().max_message_size(64 * 1024);
    let max = 1 << 20;
    let split = testing::feed(&ws, &[a, b], max);
    let whole = testing::feed(&ws, &[&stream], max);
    assert_eq!(split.is_ok(), whole.is_ok());
    if let (Ok(split), Ok(whole)) = (split, whole) {
        assert_eq!(split, whole);
        assert!(split.iter().all(|m| m.len() <= 64 * 1024));
    }
});
