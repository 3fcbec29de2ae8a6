//! GatewayProtocol frames (workerman-gateway): any bytes, cut at any point, never panic; every
//! packet that decodes re-encodes to the same bytes; client_id parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use workerman::protocol::testing::feed;
use workerman_gateway::ClientId;
use workerman_gateway::frame::GatewayProtocol;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |b| *b as usize) % (data.len() + 1);
    let (a, b) = data.split_at(cut);
    if let Ok(packets) = feed(&GatewayProtocol, &[a, b], 1 << 16) {
        let mut again = Vec::new();
        for p in &packets {
            again.extend_from_slice(&p.to_bytes());
        }
        assert_eq!(feed(&GatewayProtocol, &[&again], 1 << 16).unwrap(), packets);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(id) = s.parse::<ClientId>() {
            assert_eq!(id.to_string(), s.to_ascii_lowercase());
        }
    }
});
