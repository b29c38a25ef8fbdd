//! Via (§20.42, §18.2.1, RFC 3581 `rport`).

use core::net::IpAddr;

use crate::message::lex::{self, Cursor};
use crate::message::params::{self, Params};
use crate::message::uri::{self, Host};

/// The magic cookie that starts an RFC 3261 branch (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value: `sent-protocol LWS sent-by *( SEMI via-params )`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'b> {
    /// Protocol name, normally `SIP`.
    pub protocol: &'b str,
    /// Protocol version, normally `2.0`.
    pub version: &'b str,
    /// Transport as written: `UDP`, `TCP`, `TLS`, `SCTP`, or an extension token.
    pub transport: &'b str,
    /// The sent-by host.
    pub host: Host<'b>,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// The via-params, from the first `;`.
    pub params: Params<'b>,
}

impl<'b> Via<'b> {
    /// Parses one Via value (one element of the comma-separated list).
    pub fn parse(value: &'b [u8]) -> Option<Via<'b>> {
        let mut c = Cursor::new(value);
        c.skip_lws();
        let protocol = c.token()?;
        if !c.eat_sep(b'/') {
            return None;
        }
        let version = c.token()?;
        if !c.eat_sep(b'/') {
            return None;
        }
        let transport = c.token()?;
        // LWS between sent-protocol and sent-by is mandatory.
        let before = c.pos();
        c.skip_lws();
        if c.pos() == before {
            return None;
        }
        let (host, port) = uri::parse_host_port(&mut c)?;
        let params_start = c.pos();
        params::scan(&mut c)?;
        let params = Params::new(&value[params_start..c.pos()]);
        c.skip_lws();
        if !c.at_end() {
            return None;
        }
        // Typed via-params must be well formed where present (§25.1 via-ttl, via-received).
        let via = Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        };
        if let Some(v) = params.get("ttl") {
            lex::parse_u64(v?, 255)?;
        }
        if let Some(v) = params.get("received") {
            core::str::from_utf8(v?).ok()?.parse::<IpAddr>().ok()?;
        }
        if let Some(Some(v)) = params.get("rport") {
            lex::parse_u64(v, 65535)?;
        }
        if let Some(v) = params.get("branch") {
            if !lex::is_token(v?) {
                return None;
            }
        }
        Some(via)
    }

    /// The branch parameter (§8.1.1.7).
    pub fn branch(&self) -> Option<&'b str> {
        self.param_str("branch")
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK` (§8.1.1.7); when it
    /// does not, the RFC 2543 matching rules of §17.2.3 apply.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter (§18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        self.param_str("received")?.parse().ok()
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without a value (the
    /// client asks for it), `Some(Some(port))` when filled in by a server.
    pub fn rport(&self) -> Option<Option<u16>> {
        match self.params.get("rport")? {
            None => Some(None),
            Some(v) => Some(lex::parse_u64(v, 65535).map(|p| p as u16)),
        }
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'b str> {
        self.param_str("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params
            .get("ttl")?
            .and_then(|v| lex::parse_u64(v, 255))
            .map(|t| t as u8)
    }

    /// Whether the transport is reliable (TCP, TLS, SCTP, WS, WSS) for §17 timer purposes.
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }

    fn param_str(&self, name: &str) -> Option<&'b str> {
        self.params
            .get(name)?
            .and_then(|v| core::str::from_utf8(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn tortuous_via() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
    }

    #[test]
    fn params() {
        let v = Via::parse(
            b"SIP/2.0/TCP [2001:db8::9:1]:5070;branch=z9hG4bKa;received=192.0.2.1;rport;ttl=16;maddr=224.2.0.1",
        )
        .unwrap();
        assert!(v.has_magic_cookie() && v.is_reliable());
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.received(), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some("224.2.0.1"));
        let v = Via::parse(b"SIP/2.0/UDP h.example.com;rport=5061").unwrap();
        assert_eq!(v.rport(), Some(Some(5061)));
    }

    #[test]
    fn rejects() {
        for bad in [
            &b"SIP/2.0/UDP 192.0.2.15;;"[..],
            b"SIP/2.0/UDP",
            b"SIP/2.0/UDP192.0.2.1",
            b"SIP/2.0 192.0.2.1",
            b"SIP/2.0/UDP 192.0.2.1;ttl=300",
            b"SIP/2.0/UDP 192.0.2.1;received=nothost",
            b"SIP/2.0/UDP 192.0.2.1 junk",
            b"SIP/2.0/UDP h:99999",
        ] {
            assert!(Via::parse(bad).is_none(), "{:?}", core::str::from_utf8(bad));
        }
    }
}
