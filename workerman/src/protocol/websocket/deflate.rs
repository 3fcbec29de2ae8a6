//! permessage-deflate (RFC 7692): offer negotiation and message (de)compression.
//!
//! Memory is the design constraint. The server always answers with `server_no_context_takeover`
//! (allowed even when not offered, §7.1.1.1), so outgoing messages are compressed with one
//! compressor per process, reset after each message: no connection owns a compressor. Incoming
//! messages are inflated when complete; a connection gets its own inflater (~40 KiB) only when the
//! client keeps its compression context across messages (it did not offer
//! `client_no_context_takeover`) and only once it actually sends a compressed message.
//! Otherwise a per-process inflater is used and reset.
//!
//! `server_max_window_bits=N` (N < 15) is honoured with a full flush (which empties the
//! compressor's dictionary) every 2^N bytes: no back-reference reaches further than that.
//! Every data message is sent compressed once the extension is negotiated.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Negotiated parameters (what the 101 answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The largest window the server's compressor may use, 8-15 (15 when nothing was asked).
    pub server_max_window_bits: u8,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The largest window the client's compressor may use, 8-15.
    pub client_max_window_bits: u8,
    /// The server resets its compressor after each message (ours always does).
    pub server_no_context_takeover: bool,
}

/// What the `ws://` client offers: permessage-deflate, letting the server limit the client's
/// window (which it honours with full flushes, as the server side does), and saying
/// `client_no_context_takeover` because that is what the client does anyway: like the server, it
/// compresses each message with the per-process compressor, reset after the message (§7.1.1.2:
/// a hint the server may rely on, so it needs no context of its own to inflate our messages).
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits; client_no_context_takeover";

/// Checks the server's answer to [`CLIENT_OFFER`] (its `Sec-WebSocket-Extensions` value): one
/// `permessage-deflate` with known, single, well-formed parameters (RFC 7692 §7.1), or why not.
pub fn accept_response(value: &str) -> Result<Params, String> {
    let mut exts = value.split(',');
    let ext = exts.next().unwrap_or("");
    if exts.next().is_some() {
        return Err(format!("the server chose extensions that were not offered: {value}"));
    }
    let mut parts = ext.split(';').map(str::trim);
    if parts.next() != Some("permessage-deflate") {
        return Err(format!("the server chose an extension that was not offered: {value}"));
    }
    let mut p = Params {
        server_max_window_bits: 15,
        client_no_context_takeover: false,
        client_max_window_bits: 15,
        server_no_context_takeover: false,
    };
    let mut seen = [false; 4];
    for param in parts.filter(|x| !x.is_empty()) {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param, None),
        };
        let bits = || {
            value
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
                .ok_or_else(|| format!("bad permessage-deflate parameter in the response: {param}"))
        };
        let i = match (name, value) {
            ("server_no_context_takeover", None) => {
                p.server_no_context_takeover = true;
                0
            }
            ("client_no_context_takeover", None) => {
                p.client_no_context_takeover = true;
                1
            }
            ("server_max_window_bits", Some(_)) => {
                p.server_max_window_bits = bits()?;
                2
            }
            ("client_max_window_bits", Some(_)) => {
                p.client_max_window_bits = bits()?;
                3
            }
            _ => return Err(format!("bad permessage-deflate parameter in the response: {param}")),
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(format!("repeated permessage-deflate parameter in the response: {name}"));
        }
    }
    Ok(p)
}

/// Picks the first acceptable `permessage-deflate` offer of the `Sec-WebSocket-Extensions`
/// header values; returns the parameters and the response header value. Offers with unknown,
/// duplicate or malformed parameters are declined (§7.1.1).
pub fn negotiate<'a>(offers: impl Iterator<Item = &'a str>) -> Option<(Params, String)> {
    for offer in offers.flat_map(|v| v.split(',')) {
        let mut parts = offer.split(';').map(str::trim);
        if parts.next() != Some("permessage-deflate") {
            continue;
        }
        if let Some(accepted) = accept(parts) {
            return Some(accepted);
        }
    }
    None
}

fn accept<'a>(params: impl Iterator<Item = &'a str>) -> Option<(Params, String)> {
    let mut seen = [false; 4];
    let mut server_bits = None;
    let mut client_nct = false;
    for p in params {
        if p.is_empty() {
            continue;
        }
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        let bits = |v: Option<&str>| v.and_then(|v| v.parse::<u8>().ok()).filter(|b| (8..=15).contains(b));
        let i = match name {
            "server_no_context_takeover" if value.is_none() => 0,
            "client_no_context_takeover" if value.is_none() => {
                client_nct = true;
                1
            }
            "server_max_window_bits" => {
                server_bits = Some(bits(value)?);
                2
            }
            "client_max_window_bits" => {
                if value.is_some() {
                    bits(value)?;
                }
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
    }
    let mut response = String::from("permessage-deflate; server_no_context_takeover");
    if client_nct {
        response.push_str("; client_no_context_takeover");
    }
    if let Some(b) = server_bits {
        response.push_str(&format!("; server_max_window_bits={b}"));
    }
    Some((
        Params {
            server_max_window_bits: server_bits.unwrap_or(15),
            client_no_context_takeover: client_nct,
            client_max_window_bits: 15,
            server_no_context_takeover: true,
        },
        response,
    ))
}

thread_local! {
    static COMPRESSOR: RefCell<Option<Compress>> = const { RefCell::new(None) };
    static INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// Appends `payload` compressed (raw deflate, sync flush, the final `00 00 ff ff` removed),
/// with back-references of at most 2^`window_bits` bytes (a full flush every 2^bits bytes when
/// the peer asked for a window smaller than the compressor's 32 KiB).
pub fn compress(payload: &[u8], window_bits: u8, out: &mut Vec<u8>) {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        let c = c.get_or_insert_with(|| Compress::new(Compression::fast(), false));
        let chunk = if window_bits >= 15 {
            payload.len().max(1)
        } else {
            1 << window_bits
        };
        let mut chunks = payload.chunks(chunk).peekable();
        if chunks.peek().is_none() {
            feed(c, &[], FlushCompress::Sync, out);
        }
        while let Some(part) = chunks.next() {
            let flush = if chunks.peek().is_some() {
                FlushCompress::Full
            } else {
                FlushCompress::Sync
            };
            feed(c, part, flush, out);
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - 4);
        }
        c.reset();
    });
}

fn feed(c: &mut Compress, input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    // Room for incompressible data (stored blocks) so one call usually does it; a call that
    // fills the buffer has more to write, and is repeated (continuing the same flush).
    out.reserve(input.len() + input.len() / 8 + 128);
    let start = c.total_in();
    loop {
        let consumed = (c.total_in() - start) as usize;
        c.compress_vec(&input[consumed..], out, flush)
            .expect("deflate of an in-memory buffer cannot fail");
        if (c.total_in() - start) as usize == input.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(256));
    }
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// Not valid deflate data (close code 1007).
    Corrupt,
    /// Inflates to more than the limit (close code 1009).
    TooBig,
}

/// An inflater kept by one connection (the client keeps its context across messages).
pub struct Inflater(Decompress);

impl Inflater {
    /// A fresh raw-deflate inflater.
    pub fn new() -> Self {
        Inflater(Decompress::new(false))
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inflater")
    }
}

/// Inflates one complete message with `own` (context takeover) or the per-process inflater,
/// refusing output over `max` bytes.
pub fn inflate(own: Option<&mut Inflater>, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    match own {
        Some(i) => run(&mut i.0, data, max),
        None => INFLATER.with(|d| {
            let mut d = d.borrow_mut();
            let d = d.get_or_insert_with(|| Decompress::new(false));
            let r = run(d, data, max);
            d.reset(false);
            r
        }),
    }
}

fn run(d: &mut Decompress, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity((data.len() * 3).clamp(64, max.max(64)));
    for input in [data, &TAIL[..]] {
        let start = d.total_in();
        loop {
            let consumed = (d.total_in() - start) as usize;
            if out.len() == out.capacity() {
                if out.len() > max {
                    return Err(InflateError::TooBig);
                }
                out.reserve(out.capacity().min(max + 1 - out.len().min(max)).max(64));
            }
            let before_out = out.len();
            let status = d
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            if out.len() > max {
                return Err(InflateError::TooBig);
            }
            let all_in = (d.total_in() - start) as usize == input.len();
            let progressed = out.len() > before_out || (d.total_in() - start) as usize > consumed;
            if matches!(status, Status::StreamEnd) || (all_in && out.len() < out.capacity()) {
                break;
            }
            if !progressed && out.len() < out.capacity() {
                if all_in {
                    break;
                }
                return Err(InflateError::Corrupt);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let (p, r) = negotiate(["permessage-deflate; client_max_window_bits"].into_iter()).unwrap();
        assert_eq!(r, "permessage-deflate; server_no_context_takeover");
        assert_eq!(p.server_max_window_bits, 15);
        let (p, r) = negotiate(
            ["x-foo, permessage-deflate; server_max_window_bits=20, permessage-deflate; server_max_window_bits=9; client_no_context_takeover"]
                .into_iter(),
        )
        .unwrap();
        assert_eq!(
            r,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"
        );
        assert!(p.client_no_context_takeover && p.server_max_window_bits == 9);
        assert!(negotiate(["permessage-deflate; foo"].into_iter()).is_none());
        assert!(
            negotiate(["permessage-deflate; server_no_context_takeover; server_no_context_takeover"].into_iter())
                .is_none()
        );
        assert!(negotiate(["permessage-deflate; server_max_window_bits"].into_iter()).is_none());
        assert!(negotiate(["x-webkit-deflate-frame"].into_iter()).is_none());
    }

    #[test]
    fn round_trip_and_limits() {
        for len in [0usize, 1, 100, 70_000, 1 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect();
            let mut c = Vec::new();
            compress(&data, 15, &mut c);
            let mut small = Vec::new();
            compress(&data, 8, &mut small);
            assert_eq!(inflate(None, &small, 1 << 21).unwrap(), data, "len {len}, 8 bits");
            assert!(!c.ends_with(&TAIL) || c.is_empty());
            assert_eq!(inflate(None, &c, 1 << 21).unwrap(), data, "len {len}");
            let mut own = Inflater::new();
            assert_eq!(inflate(Some(&mut own), &c, 1 << 21).unwrap(), data);
            if len > 10 {
                assert_eq!(inflate(None, &c, len - 1), Err(InflateError::TooBig));
            }
        }
        assert_eq!(inflate(None, b"\xff\xff\xff\xff", 100), Err(InflateError::Corrupt));
    }

    #[test]
    fn context_takeover_across_messages() {
        // A client keeping its context: the second message refers back to the first.
        let mut c = Compress::new(Compression::default(), false);
        let mut own = Inflater::new();
        for msg in [&b"hello hello hello websocket"[..], b"hello hello hello websocket!"] {
            let mut out = Vec::with_capacity(256);
            c.compress_vec(msg, &mut out, FlushCompress::Sync).unwrap();
            out.truncate(out.len() - 4);
            assert_eq!(inflate(Some(&mut own), &out, 1000).unwrap(), msg);
        }
    }

    #[test]
    fn client_checks_the_servers_answer() {
        let p = accept_response("permessage-deflate; server_no_context_takeover").unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!((p.client_max_window_bits, p.server_max_window_bits), (15, 15));
        let p = accept_response("permessage-deflate;client_max_window_bits=10; server_max_window_bits=\"9\"").unwrap();
        assert_eq!((p.client_max_window_bits, p.server_max_window_bits), (10, 9));
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; mystery",
        ] {
            assert!(accept_response(bad).is_err(), "{bad}");
        }
    }
}
