//! `scheme://host:port` listen addresses.
//!
//! ```text
//! text://0.0.0.0:2348        protocol `text` over tcp
//! tcp://127.0.0.1:0          raw tcp, port chosen by the kernel
//! http://[::]:8080           IPv6 (dual stack)
//! unix:///tmp/app.sock       unix domain socket
//! https://0.0.0.0:443        `http` over the ssl transport
//! ```

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// How bytes travel: the layer under the application protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP stream.
    Tcp,
    /// UDP datagrams.
    Udp,
    /// Unix domain stream socket.
    Unix,
    /// TLS over TCP.
    Ssl,
}

impl Transport {
    /// The scheme that names this transport.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Unix => "unix",
            Transport::Ssl => "ssl",
        }
    }

    fn from_scheme(scheme: &str) -> Option<Transport> {
        match scheme {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            "unix" => Some(Transport::Unix),
            "ssl" | "tls" => Some(Transport::Ssl),
            _ => None,
        }
    }
}

/// Where to listen or connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Host (name or literal, IPv6 without brackets) and port.
    Inet {
        /// Host name or IP literal.
        host: String,
        /// Port number; 0 lets the kernel choose.
        port: u16,
    },
    /// Path of a unix domain socket.
    Unix(PathBuf),
}

/// A parsed `scheme://host:port` address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    original: String,
    scheme: String,
    transport: Transport,
    target: Target,
}

impl Address {
    /// Parses `scheme://host:port` or `unix:///path`.
    ///
    /// ```
    /// use workerman::address::{Address, Transport};
    /// let a = Address::parse("text://0.0.0.0:2348").unwrap();
    /// assert_eq!(a.scheme(), "text");
    /// assert_eq!(a.transport(), Transport::Tcp);
    /// assert!(Address::parse("text:/oops").is_err());
    /// ```
    pub fn parse(address: &str) -> Result<Address> {
        let bad = |reason: &str| Error::Address {
            address: address.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = address
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host:port"))?;
        let mut chars = scheme.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(bad(
                "the scheme must start with a letter and hold only letters, digits and `_`",
            ));
        }
        let scheme = scheme.to_ascii_lowercase();
        let mut transport = Transport::from_scheme(&scheme).unwrap_or(Transport::Tcp);
        match scheme.as_str() {
            "https" | "wss" => transport = Transport::Ssl,
            _ => {}
        }
        let target = if transport == Transport::Unix {
            if rest.is_empty() {
                return Err(bad("a unix socket needs a path, as in unix:///tmp/app.sock"));
            }
            Target::Unix(PathBuf::from(rest))
        } else {
            let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
                let (host, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed `[` in IPv6 address"))?;
                let port = tail.strip_prefix(':').ok_or_else(|| bad("missing `:port`"))?;
                (host, port)
            } else {
                rest.rsplit_once(':').ok_or_else(|| bad("missing `:port`"))?
            };
            if host.is_empty() {
                return Err(bad("missing host"));
            }
            if host.contains(['/', ' ']) {
                return Err(bad("the host may not contain `/` or spaces"));
            }
            let port = port
                .parse::<u16>()
                .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
            Target::Inet {
                host: host.to_string(),
                port,
            }
        };
        Ok(Address {
            original: address.to_string(),
            scheme,
            transport,
            target,
        })
    }

    /// The scheme, lower-cased (`text`, `tcp`, `http`, ...).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The transport under the protocol.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Host and port, or unix path.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether the scheme names a transport only (`tcp`, `udp`, `unix`, `ssl`), so any protocol may run on it.
    pub fn is_transport_scheme(&self) -> bool {
        Transport::from_scheme(&self.scheme).is_some()
    }

    /// Resolves the host to socket addresses (blocking name lookup for names; literals are immediate).
    pub fn socket_addrs(&self) -> Result<Vec<SocketAddr>> {
        match &self.target {
            Target::Inet { host, port } => {
                let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| Error::io(format!("cannot resolve `{}`", self.original), e))?
                    .collect();
                if addrs.is_empty() {
                    return Err(Error::Address {
                        address: self.original.clone(),
                        reason: "the host resolves to no address".into(),
                    });
                }
                Ok(addrs)
            }
            Target::Unix(_) => Err(Error::Address {
                address: self.original.clone(),
                reason: "not an IP address".into(),
            }),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let a = Address::parse("tcp://0.0.0.0:2347").unwrap();
        assert_eq!(
            a.target(),
            &Target::Inet {
                host: "0.0.0.0".into(),
                port: 2347
            }
        );
        assert!(a.is_transport_scheme());
        let a = Address::parse("JSON_NL://127.0.0.1:1").unwrap();
        assert_eq!(a.scheme(), "json_nl");
        assert!(!a.is_transport_scheme());
        let a = Address::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            a.target(),
            &Target::Inet {
                host: "::1".into(),
                port: 8080
            }
        );
        let a = Address::parse("unix:///tmp/x.sock").unwrap();
        assert_eq!(a.target(), &Target::Unix("/tmp/x.sock".into()));
        assert_eq!(a.transport(), Transport::Unix);
        assert_eq!(
            Address::parse("https://0.0.0.0:443").unwrap().transport(),
            Transport::Ssl
        );
        assert_eq!(Address::parse("udp://0.0.0.0:9").unwrap().transport(), Transport::Udp);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "tcp:/x:1",
            "://x:1",
            "1tcp://x:1",
            "tcp://x",
            "tcp://:80",
            "tcp://x:99999",
            "tcp://[::1:80",
            "unix://",
            "tcp://a b:1",
            "te-xt://x:1",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
