//! Baseline for the WebSocket room benchmark: tokio-tungstenite on a one-thread tokio runtime,
//! a task per connection; every text message a client sends is published on a
//! `tokio::sync::broadcast` channel as one shared `Message` (its payload is reference-counted
//! `Bytes`: not copied per recipient) and each connection's task writes what it receives,
//! feeding everything available before one flush (its own coalescing).
//!
//! ```text
//! tokio_ws_room 127.0.0.1:2473
//! ```
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:2473".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(&addr).await?;
        let (room, _) = broadcast::channel::<Message>(4096);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stream.set_nodelay(true)?;
            let room = room.clone();
            tokio::task::spawn_local(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let (mut sink, mut source) = ws.split();
                let mut inbox = room.subscribe();
                let publisher = room.clone();
                // The writer below stops when the reader sees the connection end.
                let (gone_tx, mut gone) = tokio::sync::oneshot::channel::<()>();
                tokio::task::spawn_local(async move {
                    while let Some(Ok(msg)) = source.next().await {
                        if msg.is_text() {
                            let _ = publisher.send(msg);
                        }
                    }
                    drop(gone_tx);
                });
                loop {
                    let msg = tokio::select! {
                        m = inbox.recv() => match m {
                            Ok(m) => m,
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                        _ = &mut gone => return,
                    };
                    if sink.feed(msg).await.is_err() {
                        return;
                    }
                    while let Ok(m) = inbox.try_recv() {
                        if sink.feed(m).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}
