//! The baseline of the line-echo benchmark: a plain tokio line-echo server on one thread.
//!
//! A `current_thread` runtime (one thread, like one workerman worker process), one task per
//! connection; each line read (UTF-8 checked, as the `text` protocol does) is written back with its
//! newline. Replies are buffered and flushed once no complete line is left in the read buffer, so
//! pipelined lines share one write, as workerman does.
//!
//! ```text
//! target/release/tokio_line_echo 127.0.0.1:2450
//! ```
//!
//! Runs until killed (SIGTERM / Ctrl+C).

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// Used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:2450";

fn main() -> io::Result<()> {
    let addr = match std::env::args().nth(1).as_deref() {
        None => DEFAULT_ADDR.to_string(),
        Some("-h" | "--help") => {
            println!("usage: tokio_line_echo [HOST:PORT]   (default {DEFAULT_ADDR})");
            return Ok(());
        }
        Some(a) => a.to_string(),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("tokio_line_echo listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = echo(stream).await;
            });
        }
    })
}

/// Echoes lines until the peer closes.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let (r, w) = stream.split();
    let mut reader = BufReader::with_capacity(64 * 1024, r);
    let mut writer = BufWriter::with_capacity(64 * 1024, w);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return writer.flush().await;
        }
        writer.write_all(line.as_bytes()).await?;
        if !reader.buffer().contains(&b'\n') {
            writer.flush().await?;
        }
    }
}
