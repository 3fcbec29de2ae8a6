//! Feeds arbitrary bytes to the proxy reply parsers (SOCKS5 reply, HTTP CONNECT response head)
//! and proxy URLs to the URL parser: never a panic; a size, once told, never shrinks as more
//! bytes arrive, and an HTTP head's size ends at its blank line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::connection::proxy::{Proxy, http_connect_response_len, socks5_reply_len};

fuzz_target!(|data: &[u8]| {
    let mut told = None;
    for i in 0..=data.len() {
        match socks5_reply_len(&data[..i]) {
            Ok(Some(n)) => {
                assert!(n >= 7);
                if let Some(t) = told {
                    assert_eq!(n, t);
                }
                told = Some(n);
            }
            Ok(None) => assert!(told.is_none()),
            Err(_) => break,
        }
    }
    if let Ok(Some(n)) = http_connect_response_len(data) {
        assert!(n <= data.len() && data[..n].ends_with(b"\r\n\r\n"));
    }
    if let Ok(url) = std::str::from_utf8(data) {
        let _ = Proxy::parse(url);
    }
});
