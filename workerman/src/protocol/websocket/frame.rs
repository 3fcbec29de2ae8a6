//! RFC 6455 frames: header parsing and writing, masking, close codes. No I/O and no connection
//! state, so the server (`websocket://`) and the client (`ws://`) share it: a server expects masked
//! frames and sends unmasked ones; a client does the opposite ([`Role`]).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use bytes::{BufMut, BytesMut};

/// Which end of the connection this codec runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Receives unmasked frames, sends masked ones.
    Client,
}

/// Frame opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: a UTF-8 text message (first frame).
    Text,
    /// 0x2: a binary message (first frame).
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The opcode of a 4-bit value; `None` for the reserved ones (3-7, 0xB-0xF).
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Control frames carry at most 125 payload bytes.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Last frame of a message.
    pub fin: bool,
    /// RSV1 (permessage-deflate: "compressed").
    pub rsv1: bool,
    /// RSV2 and RSV3 (no extension we know uses them).
    pub rsv23: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
    /// Header length in bytes (2 to 14).
    pub header_len: usize,
}

impl Header {
    /// Header plus payload, in bytes.
    pub fn frame_len(&self) -> u64 {
        self.header_len as u64 + self.payload_len
    }
}

/// Why a frame header is unacceptable, with the close code to fail the connection with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The close code (1002 protocol error, 1009 too big).
    pub code: u16,
    /// What was wrong.
    pub reason: &'static str,
}

impl FrameError {
    fn protocol(reason: &'static str) -> Self {
        FrameError { code: 1002, reason }
    }
}

/// Parses the frame header at the start of `buf` as received by `role`, checking what can be
/// checked from the header alone: reserved opcodes, masking, control frame size and fragmentation,
/// the 64-bit length's top bit. RSV bits are returned for the caller to judge (they depend on the
/// negotiated extensions). `Ok(None)`: the header is not complete yet.
pub fn parse_header(buf: &[u8], role: Role) -> Result<Option<Header>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(FrameError::protocol("reserved opcode"))?;
    let masked = b1 & 0x80 != 0;
    match role {
        Role::Server if !masked => return Err(FrameError::protocol("frame from the client is not masked")),
        Role::Client if masked => return Err(FrameError::protocol("frame from the server is masked")),
        _ => {}
    }
    let fin = b0 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    if opcode.is_control() {
        if !fin {
            return Err(FrameError::protocol("fragmented control frame"));
        }
        if len7 as usize > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::protocol("control frame payload over 125 bytes"));
        }
    }
    let (payload_len, mut pos) = match len7 {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let n = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
            if n >> 63 != 0 {
                return Err(FrameError::protocol("payload length with the top bit set"));
            }
            (n, 10)
        }
        n => (n as u64, 2),
    };
    let mask = if masked {
        if buf.len() < pos + 4 {
            return Ok(None);
        }
        let m = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(m)
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        rsv1: b0 & 0x40 != 0,
        rsv23: b0 & 0x30 != 0,
        opcode,
        mask,
        payload_len,
        header_len: pos,
    }))
}

/// Appends a frame header: `mask` is `Some` for client frames.
pub fn write_header(out: &mut BytesMut, fin: bool, rsv1: bool, opcode: OpCode, mask: Option<[u8; 4]>, len: usize) {
    let b0 = (fin as u8) << 7 | (rsv1 as u8) << 6 | opcode.bits();
    let m = if mask.is_some() { 0x80 } else { 0 };
    out.reserve(14 + len);
    out.put_u8(b0);
    if len < 126 {
        out.put_u8(m | len as u8);
    } else if len <= 0xFFFF {
        out.put_u8(m | 126);
        out.put_u16(len as u16);
    } else {
        out.put_u8(m | 127);
        out.put_u64(len as u64);
    }
    if let Some(k) = mask {
        out.put_slice(&k);
    }
}

/// Appends a whole frame (header and payload, masked with `mask` if given).
pub fn write_frame(out: &mut BytesMut, fin: bool, rsv1: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload: &[u8]) {
    write_header(out, fin, rsv1, opcode, mask, payload.len());
    let start = out.len();
    out.put_slice(payload);
    if let Some(k) = mask {
        apply_mask(&mut out[start..], k, 0);
    }
}

/// XORs `buf` with the masking key, as if `buf` started `offset` bytes into the payload
/// (masking is its own inverse).
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut key = mask;
    key.rotate_left(offset % 4);
    let wide = u64::from_ne_bytes([key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes((&*c).try_into().expect("8 bytes")) ^ wide;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Whether a close code may appear in a close frame (RFC 6455 §7.4, IANA registry): 1000-1003,
/// 1007-1014 and 3000-4999. 1004-1006, 1015 and everything else are refused.
pub fn close_code_is_valid(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Appends a close frame with `code` and `reason` (cut to fit 125 bytes at a char boundary).
pub fn write_close(out: &mut BytesMut, code: u16, reason: &str, mask: Option<[u8; 4]>) {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    write_frame(out, true, false, OpCode::Close, mask, &payload[..2 + end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths_and_mask() {
        let mut out = BytesMut::new();
        for len in [0usize, 125, 126, 65535, 65536] {
            out.clear();
            write_frame(
                &mut out,
                true,
                false,
                OpCode::Binary,
                Some([1, 2, 3, 4]),
                &vec![7u8; len],
            );
            let h = parse_header(&out, Role::Server).unwrap().unwrap();
            assert_eq!(h.payload_len, len as u64);
            assert_eq!(h.frame_len() as usize, out.len());
            let mut p = out[h.header_len..].to_vec();
            apply_mask(&mut p, h.mask.unwrap(), 0);
            assert!(p.iter().all(|&b| b == 7));
            for cut in 0..h.header_len {
                assert_eq!(parse_header(&out[..cut], Role::Server), Ok(None));
            }
        }
    }

    #[test]
    fn strict_header_rules() {
        assert_eq!(parse_header(b"\x81\x00", Role::Server).unwrap_err().code, 1002);
        assert!(parse_header(b"\x81\x00", Role::Client).unwrap().is_some());
        assert!(parse_header(b"\x81\x80\0\0\0\0", Role::Client).is_err());
        assert!(
            parse_header(b"\x83\x80\0\0\0\0", Role::Server).is_err(),
            "reserved opcode"
        );
        assert!(
            parse_header(b"\x09\x80\0\0\0\0", Role::Server).is_err(),
            "fragmented ping"
        );
        assert!(
            parse_header(b"\x89\xFE\0\x7e\0\0\0\0", Role::Server).is_err(),
            "long ping"
        );
        let h = parse_header(b"\xF1\x80\0\0\0\0", Role::Server).unwrap().unwrap();
        assert!(h.rsv1 && h.rsv23);
    }

    #[test]
    fn mask_at_any_offset() {
        let data: Vec<u8> = (0..=255).collect();
        let key = [0x12, 0x34, 0x56, 0x78];
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..data.len() {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(parts, whole);
        }
    }

    #[test]
    fn close_codes() {
        for ok in [1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999] {
            assert!(close_code_is_valid(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert!(!close_code_is_valid(bad), "{bad}");
        }
    }
}
