//! Outgoing connections through a proxy: SOCKS5 (RFC 1928, username/password RFC 1929) and
//! HTTP `CONNECT` (RFC 9110 §9.3.6, Basic authentication): Workerman's `proxySocks5` and
//! `proxyHttp`.
//!
//! The connection connects to the proxy, asks it for a tunnel to the target's host and port
//! (the host name is resolved by the proxy), and then speaks through the tunnel as if connected
//! directly: TLS, WebSocket handshakes and the protocol run inside it.
//!
//! ```text
//! SOCKS5   → 05 02 00 02                           (versions 5; methods: none, user/pass)
//!          ← 05 02                                 (user/pass chosen; 00: none needed)
//!          → 01 len user len pass                  ← 01 00   (00: accepted)
//!          → 05 01 00 03 len host port(2)          (CONNECT to a domain name; 01/04: IPv4/IPv6)
//!          ← 05 00 00 atyp addr port(2)            (00: succeeded; else the reason)
//!
//! HTTP     → CONNECT host:port HTTP/1.1\r\nHost: host:port\r\nProxy-Authorization: Basic ..\r\n\r\n
//!          ← HTTP/1.1 200 Connection established\r\n...\r\n\r\n   (any 2xx; 407: credentials)
//! ```

use std::fmt;
use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest proxy reply header accepted (`CONNECT` response head): 16 KiB.
pub const MAX_PROXY_REPLY_SIZE: usize = 16 * 1024;

/// Which proxy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// SOCKS5 (`socks5://`).
    Socks5,
    /// HTTP `CONNECT` (`http://`).
    Http,
}

/// A proxy to connect through: `socks5://[user:pass@]host:port` or
/// `http://[user:pass@]host:port` (user and password percent-decoded).
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The protocol.
    pub kind: ProxyKind,
    /// The proxy's host name or IP address.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    /// User name and password, if the proxy wants them.
    pub auth: Option<(String, String)>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.auth.as_ref().map(|a| &a.0))
            .finish()
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Http => "http",
        };
        if self.host.contains(':') {
            write!(f, "{scheme} proxy [{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme} proxy {}:{}", self.host, self.port)
        }
    }
}

impl Proxy {
    /// Parses a proxy URL.
    ///
    /// ```
    /// use workerman::connection::proxy::{Proxy, ProxyKind};
    /// let p = Proxy::parse("socks5://me:s%40cret@127.0.0.1:1080").unwrap();
    /// assert_eq!((p.kind, p.host.as_str(), p.port), (ProxyKind::Socks5, "127.0.0.1", 1080));
    /// assert_eq!(p.auth, Some(("me".into(), "s@cret".into())));
    /// assert!(Proxy::parse("ftp://h:1").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let bad = |why: &str| format!("bad proxy address {}: {why}", redact(url));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host:port"))?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "socks5" | "socks5h" => ProxyKind::Socks5,
            "http" => ProxyKind::Http,
            _ => return Err(bad("the scheme must be socks5 or http")),
        };
        let rest = rest.trim_end_matches('/');
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8()
                        .map(|s| s.into_owned())
                        .map_err(|_| bad("user or password is not UTF-8"))
                };
                (Some((decode(user)?, decode(pass)?)), hostport)
            }
            None => (None, rest),
        };
        let (host, port) = match hostport.strip_prefix('[') {
            Some(v6) => {
                let (host, port) = v6.split_once("]:").ok_or_else(|| bad("expected [ipv6]:port"))?;
                (host, port)
            }
            None => hostport.rsplit_once(':').ok_or_else(|| bad("the port is missing"))?,
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
            return Err(bad("bad host"));
        }
        let port = port.parse::<u16>().map_err(|_| bad("bad port"))?;
        let too_long = auth.as_ref().is_some_and(|(u, p)| u.len() > 255 || p.len() > 255);
        if kind == ProxyKind::Socks5 && too_long {
            return Err(bad("SOCKS5 user names and passwords are at most 255 bytes"));
        }
        Ok(Proxy {
            kind,
            host: host.to_string(),
            port,
            auth,
        })
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let (userinfo, hostport) = rest.rsplit_once('@').unwrap_or(("", rest));
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{scheme}://{user}:***@{hostport}")
        }
        _ => url.to_string(),
    }
}

/// The SOCKS5 greeting: the methods offered (no authentication, and user/password if given).
pub fn socks5_greeting(auth: bool) -> Vec<u8> {
    if auth { vec![5, 2, 0, 2] } else { vec![5, 1, 0] }
}

/// The SOCKS5 `CONNECT` request for `host:port`: an IP literal as such, anything else as a
/// domain name for the proxy to resolve.
pub fn socks5_connect_request(host: &str, port: u16) -> Result<Vec<u8>, String> {
    let mut req = vec![5, 1, 0];
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len())
                .ok()
                .filter(|&l| l > 0)
                .ok_or_else(|| format!("host name {host} is too long for SOCKS5"))?;
            req.push(3);
            req.push(len);
            req.extend_from_slice(host.as_bytes());
        }
    }
    req.extend_from_slice(&port.to_be_bytes());
    Ok(req)
}

/// The size of the SOCKS5 reply at the front of `buf`, once its first 5 bytes tell it (it may
/// exceed what is buffered; `Ok(None)`: need more bytes to tell), or why the proxy refused.
pub fn socks5_reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] != 5 {
        return Err(format!("not a SOCKS5 reply (version {})", buf[0]));
    }
    if buf[1] != 0 {
        return Err(format!("refused the connection: {}", socks5_reason(buf[1])));
    }
    if buf.len() < 5 {
        return Ok(None);
    }
    let addr = match buf[3] {
        1 => 4,
        4 => 16,
        3 => 1 + buf[4] as usize,
        t => return Err(format!("bad SOCKS5 reply (address type {t})")),
    };
    Ok(Some(4 + addr + 2))
}

fn socks5_reason(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// The HTTP `CONNECT` request for `host:port`.
pub fn http_connect_request(host: &str, port: u16, auth: Option<&(String, String)>) -> Vec<u8> {
    let authority = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some((user, pass)) = auth {
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(&base64(format!("{user}:{pass}").as_bytes()));
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.into_bytes()
}

/// The size of the `CONNECT` response head at the front of `buf`, through its blank line
/// (`Ok(None)`: need more bytes); an error for anything but a 2xx status, or a head longer
/// than [`MAX_PROXY_REPLY_SIZE`].
pub fn http_connect_response_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| i + 4) else {
        if buf.len() >= MAX_PROXY_REPLY_SIZE {
            return Err(format!("reply head exceeds {MAX_PROXY_REPLY_SIZE} bytes"));
        }
        // A status line that is already wrong need not wait for the rest.
        return match buf.iter().position(|&b| b == b'\n') {
            Some(nl) => status(&buf[..nl]).map(|_| None),
            None => Ok(None),
        };
    };
    if end > MAX_PROXY_REPLY_SIZE {
        return Err(format!("reply head exceeds {MAX_PROXY_REPLY_SIZE} bytes"));
    }
    let nl = buf.iter().position(|&b| b == b'\n').unwrap_or(end);
    status(&buf[..nl]).map(|_| Some(end))
}

/// Checks a `CONNECT` status line: `HTTP/1.x 2xx ...`.
fn status(line: &[u8]) -> Result<u16, String> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_end();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    let Some(code) = code.filter(|_| version.starts_with("HTTP/1.")) else {
        return Err(format!("not an HTTP reply: {:?}", truncate(line)));
    };
    match code {
        200..=299 => Ok(code),
        // 407 is the standard answer; tinyproxy sends 401.
        401 | 407 => Err(format!(
            "refused: authentication required or credentials wrong: {:?}",
            truncate(line)
        )),
        _ => Err(format!("refused the tunnel: {:?}", truncate(line))),
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(120) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Standard base64 with padding (for `Proxy-Authorization`).
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() {
                T[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Reads one reply whose size `len` tells, byte by byte up to that size: nothing after the
/// reply is consumed (the target may speak first, in the same segment).
async fn read_reply(
    stream: &mut TcpStream,
    len: impl Fn(&[u8]) -> Result<Option<usize>, String>,
) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(64);
    loop {
        if let Some(n) = len(&buf)? {
            // `len` may ask for more than is buffered (a SOCKS5 address): read exactly that.
            if buf.len() < n {
                let have = buf.len();
                buf.resize(n, 0);
                stream
                    .read_exact(&mut buf[have..])
                    .await
                    .map_err(|e| format!("closed the tunnel: {e}"))?;
                continue;
            }
            return Ok(buf);
        }
        let mut b = [0u8; 1];
        match stream.read(&mut b).await {
            Ok(0) => return Err("closed the connection during the handshake".into()),
            Ok(_) => buf.push(b[0]),
            Err(e) => return Err(format!("handshake failed: {e}")),
        }
    }
}

/// Asks `proxy`, already connected on `stream`, for a tunnel to `host:port`. The error reads
/// `socks5 proxy 127.0.0.1:1080 refused the connection: connection refused`.
pub(crate) async fn tunnel(stream: &mut TcpStream, proxy: &Proxy, host: &str, port: u16) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{proxy}: {e}");
    let ctx = |e: String| format!("{proxy} {e}");
    match proxy.kind {
        ProxyKind::Socks5 => {
            let request = socks5_connect_request(host, port).map_err(ctx)?;
            stream
                .write_all(&socks5_greeting(proxy.auth.is_some()))
                .await
                .map_err(io)?;
            let choice = read_reply(stream, |b| Ok((b.len() >= 2).then_some(2)))
                .await
                .map_err(ctx)?;
            match (choice[0], choice[1], &proxy.auth) {
                (5, 0, _) => {}
                (5, 2, Some((user, pass))) => {
                    let mut msg = vec![1, user.len() as u8];
                    msg.extend_from_slice(user.as_bytes());
                    msg.push(pass.len() as u8);
                    msg.extend_from_slice(pass.as_bytes());
                    stream.write_all(&msg).await.map_err(io)?;
                    let status = read_reply(stream, |b| Ok((b.len() >= 2).then_some(2)))
                        .await
                        .map_err(ctx)?;
                    if status[1] != 0 {
                        return Err(ctx("refused the user name and password".into()));
                    }
                }
                (5, 0xff, None) | (5, 2, None) => {
                    return Err(ctx(
                        "requires authentication: give user:password in the proxy address".into()
                    ));
                }
                (5, 0xff, Some(_)) => return Err(ctx("accepts none of the offered authentication methods".into())),
                (v, m, _) => return Err(ctx(format!("bad SOCKS5 method reply (version {v}, method {m})"))),
            }
            stream.write_all(&request).await.map_err(io)?;
            read_reply(stream, socks5_reply_len).await.map_err(ctx)?;
        }
        ProxyKind::Http => {
            stream
                .write_all(&http_connect_request(host, port, proxy.auth.as_ref()))
                .await
                .map_err(io)?;
            read_reply(stream, http_connect_response_len).await.map_err(ctx)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls() {
        let p = Proxy::parse("http://[::1]:3128").unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port, p.auth),
            (ProxyKind::Http, "::1", 3128, None)
        );
        let p = Proxy::parse("SOCKS5://u:@h:1/").unwrap();
        assert_eq!(p.auth, Some(("u".into(), String::new())));
        for bad in [
            "h:1",
            "socks4://h:1",
            "http://h",
            "http://h:99999",
            "http://:1",
            "http://u:p@h",
        ] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
        let err = Proxy::parse("http://me:secret@h").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        assert!(!format!("{:?}", Proxy::parse("http://me:secret@h:1").unwrap()).contains("secret"));
    }

    #[test]
    fn socks5_requests() {
        assert_eq!(
            socks5_connect_request("1.2.3.4", 80).unwrap(),
            [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]
        );
        assert_eq!(
            socks5_connect_request("ab", 0x1234).unwrap(),
            [5, 1, 0, 3, 2, b'a', b'b', 0x12, 0x34]
        );
        assert_eq!(socks5_connect_request("[::1]", 1).unwrap()[3], 4);
        assert!(socks5_connect_request(&"x".repeat(256), 1).is_err());
    }

    #[test]
    fn socks5_replies() {
        let ok4 = [5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];
        for i in 0..ok4.len() {
            assert_eq!(socks5_reply_len(&ok4[..i]).unwrap().filter(|&n| n <= i), None, "{i}");
        }
        assert_eq!(socks5_reply_len(&ok4), Ok(Some(10)));
        assert_eq!(socks5_reply_len(&[5, 0, 0, 3, 3]), Ok(Some(4 + 4 + 2)));
        assert_eq!(socks5_reply_len(&[5, 0, 0, 4, 0]), Ok(Some(22)));
        assert!(socks5_reply_len(&[5, 5]).unwrap_err().contains("connection refused"));
        assert!(socks5_reply_len(&[4, 0]).is_err());
        assert!(socks5_reply_len(&[5, 0, 0, 9, 0]).is_err());
    }

    #[test]
    fn http_connect() {
        let req = http_connect_request("example.com", 443, Some(&("Aladdin".into(), "open sesame".into())));
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert!(
            String::from_utf8(http_connect_request("::1", 1, None))
                .unwrap()
                .starts_with("CONNECT [::1]:1 ")
        );
        let ok = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\nSMTP banner";
        assert_eq!(http_connect_response_len(ok), Ok(Some(ok.len() - 11)));
        assert_eq!(http_connect_response_len(&ok[..20]), Ok(None));
        let e = http_connect_response_len(b"HTTP/1.1 407 Proxy Authentication Required\r\n").unwrap_err();
        assert!(e.contains("authentication required"), "{e}");
        let e = http_connect_response_len(b"HTTP/1.0 403 Forbidden\r\n\r\n").unwrap_err();
        assert!(e.contains("403 Forbidden"), "{e}");
        assert!(http_connect_response_len(b"SSH-2.0-x\r\n").is_err());
        assert!(http_connect_response_len(&[b'a'; MAX_PROXY_REPLY_SIZE]).is_err());
    }
}
