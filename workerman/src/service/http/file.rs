//! File bodies, read on the connection side: small ones at once, large ones streamed from disk
//! with backpressure (the send buffer drains before the next chunk is read), so memory stays
//! bounded whatever the file size.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};

use bytes::BytesMut;

use crate::connection::{SendResult, Status, TcpConnection};
use crate::protocol::Http;
use crate::protocol::http::{FileBody, INLINE_FILE_MAX, PendingFile, STREAM_CHUNK};

const FORBIDDEN: &[u8] = b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
const TOO_LARGE_FOR_SEND: &[u8] =
    b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// `send` cannot stream: rather than reading a large file into memory, refuse loudly.
pub(super) fn refuse_large(conn: &TcpConnection<Http>, p: &PendingFile) {
    conn.send_raw(TOO_LARGE_FOR_SEND);
    crate::settings::log(&format!(
        "http: {} is {} bytes: send file responses over {INLINE_FILE_MAX} bytes with conn.respond(), which streams them",
        p.body.path.display(),
        p.body.len
    ));
    conn.close();
}

/// Sends the response of `p`: its head then the file; an unreadable file gives 403 and a close.
pub(super) fn send(conn: &TcpConnection<Http>, p: PendingFile) {
    let file = fs::File::open(&p.body.path).and_then(|mut f| f.seek(SeekFrom::Start(p.body.offset)).map(|_| f));
    let mut file = match file {
        Ok(f) => f,
        Err(_) => return forbidden(conn),
    };
    if p.body.len <= INLINE_FILE_MAX {
        let mut out = p.head;
        if read_into(&mut file, p.body.len as usize, &mut out).is_err() {
            return forbidden(conn);
        }
        conn.send_raw(&out);
        if p.close {
            conn.close();
        }
        return;
    }
    if conn.send_raw(&p.head) == SendResult::Failed {
        return;
    }
    // Pipelined requests wait for the stream, so their responses stay in order.
    conn.pause_recv();
    conn.with_protocol_state(|s| s.streaming = true);
    crate::spawn(stream(conn.clone(), file, p.body, p.close));
}

fn forbidden(conn: &TcpConnection<Http>) {
    conn.send_raw(FORBIDDEN);
    conn.close();
}

fn read_into(file: &mut fs::File, len: usize, out: &mut BytesMut) -> io::Result<()> {
    let at = out.len();
    out.resize(at + len, 0);
    file.read_exact(&mut out[at..])
}

/// Streams `body` after its head was queued, [`STREAM_CHUNK`] at a time as the send buffer
/// drains; reading from the connection resumes at the end.
async fn stream(conn: TcpConnection<Http>, mut file: fs::File, body: FileBody, close: bool) {
    let result = copy(&conn, &mut file, &body).await;
    conn.with_protocol_state(|s| s.streaming = false);
    if conn.status() != Status::Established {
        return;
    }
    match result {
        Ok(()) if close => conn.close(),
        Ok(()) => conn.resume_recv(),
        Err(e) => {
            crate::settings::log(&format!(
                "http: streaming {} to connection {} failed: {e}",
                body.path.display(),
                conn.id()
            ));
            conn.destroy();
        }
    }
}

async fn copy(conn: &TcpConnection<Http>, file: &mut fs::File, body: &FileBody) -> io::Result<()> {
    let mut left = body.len;
    let mut buf = vec![0u8; STREAM_CHUNK];
    let high_water = conn.max_send_buffer_size().max(STREAM_CHUNK);
    while left > 0 {
        if conn.status() != Status::Established {
            return Ok(());
        }
        if conn.send_buffer_len() + STREAM_CHUNK > high_water {
            conn.drained().await;
            continue;
        }
        let want = (left as usize).min(STREAM_CHUNK);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while streaming",
            ));
        }
        if conn.send_raw(&buf[..n]) == SendResult::Failed {
            return Ok(());
        }
        left -= n as u64;
        // Let other connections run between chunks when the kernel takes everything at once.
        tokio::task::yield_now().await;
    }
    Ok(())
}
