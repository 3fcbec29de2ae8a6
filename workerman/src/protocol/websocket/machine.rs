//! The WebSocket state machine both ends share (RFC 6455 §5-§7, RFC 7692), parameterised by
//! [`Role`]: frame checks and limits, fragment sequencing and UTF-8 (through [`assemble`]),
//! inflating, the close handshake, and outgoing frames (masked by a client, compressed when
//! negotiated, queued until the opening handshake is done). The server (`server.rs`) and the
//! client (`client.rs`) add only their half of the opening handshake.
//!
//! ```text
//!  phase:  Idle ─(client: request written)─► Handshake ─(peer's half valid)─► Open
//!          Open ─(we send close)─► CloseSent ─(peer's close)─► Closed
//!          Open ─(peer's close: echoed)─► Closed          any violation: close frame ─► Closed
//! ```
//!
//! What needs more than bytes (the opening handshake's reply and hooks, pings when a hook wants
//! them, close hooks) is left as an [`Event`] in the state and announced with
//! [`Context::raise_event`]; the connection-side service (`crate::service::websocket`) takes it.

use bytes::{Bytes, BytesMut};

use super::assemble::{self, Partial};
use super::deflate;
use super::frame::{self, OpCode, Role, close_code_is_valid, parse_header, write_close, write_frame};
use super::{Message, MessageType, Outgoing};
use crate::protocol::{Context, ProtocolError};

/// Bytes of frames kept for a connection whose handshake is not done yet (then dropped and
/// counted as send failures): 1 MiB, the default send buffer limit.
pub const MAX_QUEUED_BEFORE_HANDSHAKE: usize = 1024 * 1024;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Phase {
    /// Client: not connected, or the handshake request not written yet.
    Idle,
    /// Waiting for the peer's half of the opening handshake (server: the request; client: 101).
    #[default]
    Handshake,
    /// Frames flow both ways.
    Open,
    /// We sent a close frame; waiting for the peer's (a server closes TCP right away).
    CloseSent,
    /// The close handshake is over, or the connection failed: nothing more is sent.
    Closed,
}

/// Something `decode` saw that the connection-side service acts on; `H` is the role's opening
/// handshake (the server's request to answer, or the client's checked 101 or failure).
#[derive(Debug)]
pub(crate) enum Event<H> {
    /// The peer's half of the opening handshake.
    Handshake(H),
    /// A ping's payload (answered by the service: a hook, or the automatic pong).
    Ping(Bytes),
    /// A pong's payload.
    Pong(Bytes),
    /// The peer's (valid) close frame, already answered: code and reason.
    Close(Option<u16>, String),
}

/// The per-connection state of both roles: 32 bytes on a server; fragments, queued frames,
/// inflaters and events live in boxes that exist only while needed.
#[derive(Debug)]
pub(crate) struct Core<H> {
    pub phase: Phase,
    pub send_type: MessageType,
    /// Our side of the opening handshake is done too (server: 101 written; client: 101 handled):
    /// frames go straight out. Until then they are queued.
    pub open: bool,
    /// A frame arrived since the last heartbeat tick.
    pub seen: bool,
    pub silent_ticks: u16,
    pub deflate: Option<deflate::Params>,
    partial: Option<Box<Partial>>,
    extra: Option<Box<Extra<H>>>,
}

#[derive(Debug)]
struct Extra<H> {
    event: Option<Event<H>>,
    /// Frames sent before the handshake was done.
    queue: BytesMut,
    inflater: Option<deflate::Inflater>,
}

impl<H> Core<H> {
    /// A connection in `phase` (server: [`Phase::Handshake`]; client: [`Phase::Idle`]).
    pub fn new(phase: Phase) -> Self {
        Core {
            phase,
            send_type: MessageType::Text,
            open: false,
            seen: false,
            silent_ticks: 0,
            deflate: None,
            partial: None,
            extra: None,
        }
    }

    fn extra(&mut self) -> &mut Extra<H> {
        self.extra.get_or_insert_with(|| {
            Box::new(Extra {
                event: None,
                queue: BytesMut::new(),
                inflater: None,
            })
        })
    }

    fn shrink(&mut self) {
        if let Some(e) = &self.extra
            && e.event.is_none()
            && e.queue.is_empty()
            && e.inflater.is_none()
        {
            self.extra = None;
        }
    }

    /// Leaves `e` for the service.
    pub fn set_event(&mut self, e: Event<H>) {
        self.extra().event = Some(e);
    }

    /// The event `decode` left, if any.
    pub fn take_event(&mut self) -> Option<Event<H>> {
        let e = self.extra.as_mut()?.event.take();
        self.shrink();
        e
    }

    /// Our side of the handshake is done: frames go straight out from now on; returns those
    /// queued until now, to be written right after the handshake.
    pub fn finish_handshake(&mut self) -> BytesMut {
        self.open = true;
        let q = self
            .extra
            .as_mut()
            .map(|e| std::mem::take(&mut e.queue))
            .unwrap_or_default();
        self.shrink();
        q
    }

    /// Forgets frames queued before a handshake that failed.
    pub fn drop_queue(&mut self) {
        if let Some(e) = self.extra.as_mut() {
            e.queue = BytesMut::new();
        }
        self.shrink();
    }
}

/// Access to the shared core of a role's state.
pub(crate) trait HasCore {
    /// The role's opening-handshake event.
    type Handshake;
    /// The core.
    fn core(&mut self) -> &mut Core<Self::Handshake>;
}

/// Size limits: `None` means the connection's `max_package_size`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    pub frame: Option<usize>,
    pub message: Option<usize>,
}

impl Limits {
    fn frame(self, max_package: usize, header_len: usize) -> usize {
        let package = max_package.saturating_sub(header_len);
        self.frame.map_or(package, |m| m.min(package))
    }

    fn message(self, max_package: usize) -> usize {
        self.message.unwrap_or(max_package)
    }
}

fn prefix(role: Role) -> &'static str {
    match role {
        Role::Server => "websocket",
        Role::Client => "ws client",
    }
}

/// The masking key of an outgoing frame: a fresh random one from a client (RFC 6455 §5.3), none
/// from a server.
fn mask(role: Role) -> Option<[u8; 4]> {
    match role {
        Role::Server => None,
        Role::Client => Some(random_mask()),
    }
}

thread_local! {
    /// Bytes from the OS random source, handed out a few at a time (one syscall per 64 masks).
    static RANDOM: std::cell::RefCell<([u8; 256], usize)> = const { std::cell::RefCell::new(([0; 256], 256)) };
}

/// Fills `out` with bytes from the operating system's random source (getrandom(2)).
pub(crate) fn fill_random(out: &mut [u8]) {
    RANDOM.with(|r| {
        let (pool, pos) = &mut *r.borrow_mut();
        for b in out {
            if *pos == pool.len() {
                getrandom::fill(pool).expect("the OS random source failed");
                *pos = 0;
            }
            *b = pool[*pos];
            *pos += 1;
        }
    });
}

/// A fresh masking key (RFC 6455 §5.3: unpredictable, one per frame).
pub fn random_mask() -> [u8; 4] {
    let mut m = [0; 4];
    fill_random(&mut m);
    m
}

/// Fails the connection: a close frame with `code` (when open), then TCP is closed.
pub(crate) fn fail<S: HasCore>(role: Role, cx: &mut Context<'_, S>, code: u16, reason: &str) -> ProtocolError {
    let c = cx.state.core();
    let send = c.phase == Phase::Open && c.open;
    c.phase = Phase::Closed;
    c.partial = None;
    if send {
        write_close(cx.out(), code, "", mask(role));
    }
    ProtocolError::new(format!("{}: {reason} (close {code})", prefix(role)))
}

/// `input` for an open connection: the size of the next frame, after checking its header.
pub(crate) fn input_frame<S: HasCore>(
    role: Role,
    limits: Limits,
    buf: &[u8],
    cx: &mut Context<'_, S>,
) -> Result<Option<usize>, ProtocolError> {
    let h = match parse_header(buf, role) {
        Ok(None) => return Ok(None),
        Ok(Some(h)) => h,
        Err(e) => return Err(fail(role, cx, e.code, e.reason)),
    };
    if h.rsv23 {
        return Err(fail(role, cx, 1002, "RSV2/RSV3 set without a negotiated extension"));
    }
    let max = cx.max_package_size();
    let c = cx.state.core();
    if h.rsv1 && (c.deflate.is_none() || h.opcode.is_control() || h.opcode == OpCode::Continuation) {
        return Err(fail(
            role,
            cx,
            1002,
            "RSV1 set outside a compressed message's first frame",
        ));
    }
    let in_progress = c.partial.as_ref().map(|p| p.data.len());
    if let Err(why) = assemble::check_sequence(h.opcode, in_progress.is_some()) {
        return Err(fail(role, cx, 1002, why));
    }
    if h.payload_len > limits.frame(max, h.header_len) as u64 {
        return Err(fail(role, cx, 1009, "frame over the size limit"));
    }
    if !h.opcode.is_control() && in_progress.unwrap_or(0) as u64 + h.payload_len > limits.message(max) as u64 {
        return Err(fail(role, cx, 1009, "message over the size limit"));
    }
    Ok(Some(h.frame_len() as usize))
}

/// `decode` for an open connection: one frame (checked by [`input_frame`]).
pub(crate) fn decode_frame<S: HasCore>(
    role: Role,
    limits: Limits,
    packet: &[u8],
    cx: &mut Context<'_, S>,
) -> Result<Option<Message>, ProtocolError> {
    let h = match parse_header(packet, role) {
        Ok(Some(h)) => h,
        _ => return Err(fail(role, cx, 1002, "bad frame")),
    };
    let mut payload = packet[h.header_len..].to_vec();
    if let Some(mask) = h.mask {
        frame::apply_mask(&mut payload, mask, 0);
    }
    let c = cx.state.core();
    c.seen = true;
    match h.opcode {
        OpCode::Ping => {
            c.set_event(Event::Ping(payload.into()));
            cx.raise_event();
            Ok(None)
        }
        OpCode::Pong => {
            c.set_event(Event::Pong(payload.into()));
            cx.raise_event();
            Ok(None)
        }
        OpCode::Close => decode_close(role, &payload, cx),
        OpCode::Text | OpCode::Binary if h.fin && !h.rsv1 => assemble::message(h.opcode == OpCode::Text, payload)
            .map(Some)
            .map_err(|()| fail(role, cx, 1007, "text message is not valid UTF-8")),
        OpCode::Text | OpCode::Binary => {
            c.partial = Some(Box::new(Partial::new(h.opcode, h.rsv1, payload)));
            fragment_added(role, limits, h.fin, cx)
        }
        OpCode::Continuation => {
            let Some(p) = c.partial.as_mut() else {
                return Err(fail(role, cx, 1002, "continuation frame without a message"));
            };
            p.data.extend_from_slice(&payload);
            fragment_added(role, limits, h.fin, cx)
        }
    }
}

/// Checks the UTF-8 received so far (fail fast), and completes the message on FIN.
fn fragment_added<S: HasCore>(
    role: Role,
    limits: Limits,
    fin: bool,
    cx: &mut Context<'_, S>,
) -> Result<Option<Message>, ProtocolError> {
    let max = limits.message(cx.max_package_size());
    let c = cx.state.core();
    let p = c.partial.as_mut().expect("a message in progress");
    if assemble::check_utf8(p, fin).is_err() {
        return Err(fail(role, cx, 1007, "text message is not valid UTF-8"));
    }
    if !fin {
        return Ok(None);
    }
    let p = c.partial.take().expect("a message in progress");
    let data = if p.compressed {
        // The peer keeps its compression context across messages unless it said it would not.
        let keeps_context = c.deflate.is_some_and(|d| match role {
            Role::Server => !d.client_no_context_takeover,
            Role::Client => !d.server_no_context_takeover,
        });
        let own = if keeps_context {
            Some(c.extra().inflater.get_or_insert_with(deflate::Inflater::new))
        } else {
            None
        };
        match deflate::inflate(own, &p.data, max) {
            Ok(d) => d,
            Err(deflate::InflateError::TooBig) => return Err(fail(role, cx, 1009, "inflated message too big")),
            Err(deflate::InflateError::Corrupt) => return Err(fail(role, cx, 1007, "bad deflate data")),
        }
    } else {
        p.data
    };
    match assemble::message(p.text, data) {
        Ok(m) => Ok(Some(m)),
        Err(()) => Err(fail(role, cx, 1007, "text message is not valid UTF-8")),
    }
}

/// The peer's close frame: answered with the same code when we had not sent one, then nothing
/// more is sent; a server also closes TCP (RFC 6455 §7.1.1: the server closes first).
fn decode_close<S: HasCore>(
    role: Role,
    payload: &[u8],
    cx: &mut Context<'_, S>,
) -> Result<Option<Message>, ProtocolError> {
    let (code, reason) = match payload.len() {
        0 => (None, ""),
        1 => return Err(fail(role, cx, 1002, "close frame with a 1-byte payload")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !close_code_is_valid(code) {
                return Err(fail(role, cx, 1002, "invalid close code"));
            }
            match std::str::from_utf8(&payload[2..]) {
                Ok(r) => (Some(code), r),
                Err(_) => return Err(fail(role, cx, 1007, "close reason is not valid UTF-8")),
            }
        }
    };
    let c = cx.state.core();
    let answer = c.phase == Phase::Open;
    c.phase = Phase::Closed;
    c.partial = None;
    c.set_event(Event::Close(code, reason.to_owned()));
    if answer {
        match code {
            Some(c) => write_close(cx.out(), c, "", mask(role)),
            None => write_frame(cx.out(), true, false, OpCode::Close, mask(role), &[]),
        }
    }
    cx.raise_event();
    if role == Role::Server {
        cx.close();
    }
    Ok(None)
}

/// The broadcast key of a server connection whose frames go straight out (handshake done, no
/// close sent): its send type (bit 0) and the negotiated compression window (bits 1..); `None`
/// otherwise (the connection then encodes on its own: queued, or nothing at all).
pub(crate) fn share_key<H>(c: &Core<H>) -> Option<u32> {
    if c.phase != Phase::Open || !c.open {
        return None;
    }
    let binary = u32::from(c.send_type == MessageType::Binary);
    let window = c.deflate.map_or(0, |d| u32::from(d.server_max_window_bits));
    Some(binary | window << 1)
}

/// One server frame of `msg` for every connection with broadcast `key` (see [`share_key`]): what
/// [`encode`] writes for each of them. A close frame changes each connection's state: not shared.
pub(crate) fn encode_shared_server(msg: Outgoing<'_>, key: u32, out: &mut BytesMut) -> bool {
    if matches!(msg.0, super::Out::Close(..)) {
        return false;
    }
    let send_type = if key & 1 == 1 {
        MessageType::Binary
    } else {
        MessageType::Text
    };
    let window = (key >> 1) as u8;
    let (opcode, payload) = msg.0.frame(send_type);
    if window != 0 && !opcode.is_control() {
        let mut z = Vec::new();
        deflate::compress(payload, window, &mut z);
        write_frame(out, true, true, opcode, None, &z);
    } else {
        write_frame(out, true, false, opcode, None, payload);
    }
    true
}

/// `encode` for both roles: one frame per message (compressed when negotiated, masked by a
/// client), queued until the handshake is done; nothing once a close was sent or received.
pub(crate) fn encode<S: HasCore>(role: Role, msg: Outgoing<'_>, cx: &mut Context<'_, S>) {
    let Context {
        state,
        out,
        close,
        refused,
        ..
    } = cx;
    let c = state.core();
    if matches!(c.phase, Phase::CloseSent | Phase::Closed) {
        return;
    }
    let (opcode, payload) = msg.0.frame(c.send_type);
    if opcode == OpCode::Close && !c.open {
        // Before the handshake is done, a close just closes.
        c.phase = Phase::Closed;
        *close = true;
        return;
    }
    let compressed = match c.deflate {
        Some(d) if !opcode.is_control() => {
            let bits = match role {
                Role::Server => d.server_max_window_bits,
                Role::Client => d.client_max_window_bits,
            };
            let mut z = Vec::new();
            deflate::compress(payload, bits, &mut z);
            Some(z)
        }
        _ => None,
    };
    let target: &mut BytesMut = if c.open {
        out
    } else if c.extra().queue.len() < MAX_QUEUED_BEFORE_HANDSHAKE {
        &mut c.extra().queue
    } else {
        // A peer that never finishes its handshake cannot make broadcasts pile up here.
        *refused = true;
        return;
    };
    let mask = mask(role);
    match (&msg.0, &compressed) {
        (super::Out::Close(code, reason), _) => write_close(target, *code, reason, mask),
        (_, Some(z)) => write_frame(target, true, true, opcode, mask, z),
        (_, None) => write_frame(target, true, false, opcode, mask, payload),
    }
    if opcode == OpCode::Close {
        c.phase = Phase::CloseSent;
        if role == Role::Server {
            *close = true;
        }
    }
}
