//! Asking a Register for the gateway list from a plain tokio program (GatewayClient's way):
//! connect, send `worker_connect`, read one line, close.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::conn::Dial;
use crate::auth::{self, AuthMode};
use crate::discovery::address_list;
use crate::error::{Error, Result};

/// Longest Register line accepted: 1 MiB.
const MAX_LINE: usize = 1 << 20;

/// The gateway list from the first Register in `registers` that answers.
pub(crate) async fn fetch(registers: &[String], dial: &Dial) -> Result<Vec<String>> {
    let mut last = None;
    for r in registers {
        if crate::discovery::is_redis(r) {
            match from_redis(r).await {
                Ok(list) => return Ok(list),
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            }
        }
        match tokio::time::timeout(dial.connect_timeout + dial.timeout, ask(r, dial)).await {
            Ok(Ok(list)) => return Ok(list),
            Ok(Err(e)) => last = Some(e),
            Err(_) => last = Some(Error::Timeout(format!("Register {r}"))),
        }
    }
    Err(match last {
        Some(e) => Error::NoRegister(format!("{} ({e})", registers.join(", "))),
        None => Error::NoRegister("(no address configured)".into()),
    })
}

/// The live leases in a Redis discovery backend.
#[cfg(feature = "redis")]
async fn from_redis(address: &str) -> Result<Vec<String>> {
    crate::lease::Source::parse(address)?.list().await
}

#[cfg(not(feature = "redis"))]
async fn from_redis(address: &str) -> Result<Vec<String>> {
    Err(Error::Config(format!(
        "{address}: this build has no Redis discovery (the workerman-gateway feature `redis`)"
    )))
}

async fn ask(register: &str, dial: &Dial) -> Result<Vec<String>> {
    let io = |what| {
        move |source| Error::Io {
            what,
            address: register.to_owned(),
            source,
        }
    };
    let stream = tokio::time::timeout(dial.connect_timeout, TcpStream::connect(register))
        .await
        .map_err(|_| Error::Timeout(format!("connect to Register {register}")))?
        .map_err(io("connect to Register"))?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let native = !dial.secret_key.is_empty() && dial.auth_mode == AuthMode::Native;
    if native {
        write
            .write_all(b"{\"event\":\"challenge\"}\n")
            .await
            .map_err(io("write to Register"))?;
        let msg = read_json(&mut lines, register).await?;
        let nonce = msg.get("nonce").and_then(Value::as_str).unwrap_or("");
        let h = auth::answer(&dial.secret_key, "register", nonce);
        let line = format!("{}\n", json!({"event": "worker_connect", "hmac": h}));
        write
            .write_all(line.as_bytes())
            .await
            .map_err(io("write to Register"))?;
    } else {
        let line = format!(
            "{}\n",
            json!({"event": "worker_connect", "secret_key": dial.secret_key})
        );
        write
            .write_all(line.as_bytes())
            .await
            .map_err(io("write to Register"))?;
    }
    let msg = read_json(&mut lines, register).await?;
    match msg.get("event").and_then(Value::as_str) {
        Some("broadcast_addresses") => Ok(address_list(msg.get("addresses"))),
        _ => Err(Error::BadReply {
            address: register.into(),
            reason: msg.to_string(),
        }),
    }
}

async fn read_json(lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, register: &str) -> Result<Value> {
    let mut buf = Vec::new();
    let n = AsyncReadExt::take(&mut *lines, MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|source| Error::Io {
            what: "read from Register",
            address: register.into(),
            source,
        })?;
    if n == 0 {
        return Err(Error::BadReply {
            address: register.into(),
            reason: "closed without an answer (wrong secret key?)".into(),
        });
    }
    serde_json::from_slice(&buf).map_err(|e| Error::BadReply {
        address: register.into(),
        reason: e.to_string(),
    })
}
