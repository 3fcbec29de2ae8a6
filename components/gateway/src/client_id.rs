//! client_id: which gateway process holds a client, and the client's connection id there.
//!
//! ```text
//!  7f000001 08fc 00000001   → 20 lower-case hex characters
//!  └ lan ip ┘└port┘└ conn id┘  (127.0.0.1:2300, connection 1)
//! ```
//! The same form as GatewayWorker's, so ids pass between PHP and Rust unchanged.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::Error;

/// A client's id: its gateway's inner address and its connection id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId {
    /// The gateway's inner (LAN) IPv4 address.
    pub ip: Ipv4Addr,
    /// The gateway's inner port.
    pub port: u16,
    /// The connection id within that gateway process.
    pub connection_id: u32,
}

impl ClientId {
    /// An id from its parts.
    pub fn new(ip: Ipv4Addr, port: u16, connection_id: u32) -> ClientId {
        ClientId {
            ip,
            port,
            connection_id,
        }
    }

    /// The gateway address this id belongs to, `ip:port`, as the gateway announces it.
    pub fn gateway_address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:08x}{:04x}{:08x}",
            u32::from(self.ip),
            self.port,
            self.connection_id
        )
    }
}

impl FromStr for ClientId {
    type Err = Error;

    /// Parses exactly 20 hex characters.
    ///
    /// ```
    /// use workerman_gateway::ClientId;
    /// let id: ClientId = "7f00000108fc00000001".parse().unwrap();
    /// assert_eq!((id.gateway_address().as_str(), id.connection_id), ("127.0.0.1:2300", 1));
    /// assert!("7f00000108fc0000001".parse::<ClientId>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<ClientId, Error> {
        let bad = || Error::InvalidClientId(s.chars().take(40).collect());
        if s.len() != 20 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let ip = u32::from_str_radix(&s[0..8], 16).map_err(|_| bad())?;
        let port = u16::from_str_radix(&s[8..12], 16).map_err(|_| bad())?;
        let id = u32::from_str_radix(&s[12..20], 16).map_err(|_| bad())?;
        Ok(ClientId::new(Ipv4Addr::from(ip), port, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_form_as_gatewayworker() {
        assert_eq!(
            ClientId::new(Ipv4Addr::new(127, 0, 0, 1), 2300, 1).to_string(),
            "7f00000108fc00000001"
        );
        let id = ClientId::new(Ipv4Addr::new(192, 168, 1, 10), 2301, u32::MAX);
        assert_eq!(id.to_string(), "c0a8010a08fdffffffff");
        assert_eq!("C0A8010A08FDFFFFFFFF".parse::<ClientId>().unwrap(), id);
        for bad in [
            "",
            "7f00000108fc0000000g",
            "7f00000108fc000000011",
            "+f00000108fc00000001",
        ] {
            assert!(bad.parse::<ClientId>().is_err(), "{bad}");
        }
    }
}
