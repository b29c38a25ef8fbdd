//! Via (§20.42, §18.2.1, RFC 3581 `rport`).

use core::net::IpAddr;

use crate::message::lex::{self, Cursor, TOKEN};
use crate::message::params::Params;
use crate::message::uri::{self, Host};
use crate::message::{HeaderName, ParseError};

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
    // The via-params the stack reads, found in the one pass that validates the list.
    branch: Option<&'b str>,
    received: Option<IpAddr>,
    rport: Option<Option<u16>>,
    maddr: Option<&'b str>,
    ttl: Option<u8>,
}

impl<'b> Via<'b> {
    /// Parses one Via value (one element of the comma-separated list).
    pub fn parse(value: &'b [u8]) -> Option<Via<'b>> {
        let mut c = Cursor::new(value);
        let via = Self::parse_at(&mut c)?;
        c.skip_lws();
        c.at_end().then_some(via)
    }

    /// Parses the first Via value of a header line and returns it with the rest of the line
    /// after the comma (empty if it was the only value). Reading the top Via this way does
    /// not split the whole line first.
    pub fn parse_first(value: &'b [u8]) -> Option<(Via<'b>, &'b [u8])> {
        let mut c = Cursor::new(value);
        let via = Self::parse_at(&mut c)?;
        c.skip_lws();
        let rest = if c.eat(b',') {
            c.skip_lws();
            &value[c.pos()..]
        } else if c.at_end() {
            &[][..]
        } else {
            return None;
        };
        Some((via, rest))
    }

    /// The first Via value of a header line, as [`Message::top_via`] gives it: the same
    /// answer as [`Via::parse_first`] without the rest of the line. Built where it is
    /// returned (a `Via` moved from one wrapper to the next is copied each time, reloading
    /// in wide loads what was stored field by field, which stalls).
    ///
    /// [`Message::top_via`]: crate::message::Message::top_via
    pub(crate) fn parse_top(value: &'b [u8]) -> Result<Option<Via<'b>>, ParseError> {
        let mut c = Cursor::new(value);
        let via = Self::parse_at(&mut c);
        c.skip_lws();
        match via {
            Some(via) if c.at_end() || c.peek() == Some(b',') => Ok(Some(via)),
            _ => Err(ParseError::BadHeaderValue(HeaderName::Via)),
        }
    }

    /// One value from the cursor (at the start of its buffer), which is left after its
    /// parameters.
    #[cfg_attr(not(feature = "small-code"), inline(always))]
    fn parse_at(c: &mut Cursor<'b>) -> Option<Via<'b>> {
        let value = c.buf();
        c.skip_lws();
        // Nearly every Via starts `SIP/2.0/`: the same tokens the general path reads, taken
        // at once.
        let at = c.pos();
        let (protocol, version) = match value.get(at..at + 8) {
            Some(b"SIP/2.0/") if !cfg!(feature = "small-code") => {
                c.advance(8);
                ("SIP", "2.0")
            }
            _ => {
                let protocol = c.token()?;
                if !c.eat_sep(b'/') {
                    return None;
                }
                let version = c.token()?;
                if !c.eat_sep(b'/') {
                    return None;
                }
                (protocol, version)
            }
        };
        let transport = c.token()?;
        // LWS between sent-protocol and sent-by is mandatory.
        let before = c.pos();
        c.skip_lws();
        if c.pos() == before {
            return None;
        }
        let (host, port) = uri::parse_host_port(c)?;
        let mut via = Via {
            protocol,
            version,
            transport,
            host,
            port,
            params: Params::default(),
            branch: None,
            received: None,
            rport: None,
            maddr: None,
            ttl: None,
        };
        let params_start = c.pos();
        // *( SEMI via-params ), in one pass; the typed ones must be well formed (§25.1).
        while c.eat_sep(b';') {
            let name = c.take_class(TOKEN);
            if name.is_empty() {
                return None;
            }
            let value = if c.eat_sep(b'=') {
                if c.peek() == Some(b'"') {
                    Some(c.quoted_string()?)
                } else {
                    let v = c.take_class(lex::GENVALUE);
                    if v.is_empty() {
                        return None;
                    }
                    Some(v)
                }
            } else {
                None
            };
            via.read_param(name, value)?;
        }
        via.params = Params::new(&value[params_start..c.pos()]);
        Some(via)
    }

    /// Records a via-param the stack reads; `None` if it is malformed. Inlined into the
    /// one loop that calls it: out of line it would need the `Via` being built in memory,
    /// and every later move of it then reloads what this stored piecemeal.
    #[cfg_attr(not(feature = "small-code"), inline(always))]
    fn read_param(&mut self, name: &'b [u8], value: Option<&'b [u8]>) -> Option<()> {
        use lex::eq_letters as is;
        match name.len() {
            6 if is(name, b"branch") && self.branch.is_none() => {
                self.branch = Some(lex::ascii(value?)?);
            }
            8 if is(name, b"received") && self.received.is_none() => {
                // via-received = "received" EQUAL (IPv4address / IPv6address)
                self.received = Some(crate::message::ip::parse_ip(value?)?);
            }
            5 if is(name, b"rport") && self.rport.is_none() => {
                self.rport = Some(match value {
                    None => None,
                    Some(v) => Some(lex::parse_u64(v, 65535)? as u16),
                });
            }
            5 if is(name, b"maddr") && self.maddr.is_none() => {
                self.maddr = Some(lex::ascii(value?)?);
            }
            3 if is(name, b"ttl") && self.ttl.is_none() => {
                self.ttl = Some(lex::parse_u64(value?, 255)? as u8);
            }
            _ => {}
        }
        Some(())
    }

    /// The branch parameter (§8.1.1.7).
    pub fn branch(&self) -> Option<&'b str> {
        self.branch
    }

    /// Whether the branch starts with the RFC 3261 magic cookie `z9hG4bK` (§8.1.1.7); when it
    /// does not, the RFC 2543 matching rules of §17.2.3 apply.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter (§18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        self.received
    }

    /// The `rport` parameter (RFC 3581): `Some(None)` when present without a value (the
    /// client asks for it), `Some(Some(port))` when filled in by a server.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.rport
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'b str> {
        self.maddr
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.ttl
    }

    /// Whether the transport is reliable (TCP, TLS, SCTP, WS, WSS) for §17 timer purposes;
    /// an unknown transport token counts as unreliable, the safe side (retransmit).
    pub fn is_reliable(&self) -> bool {
        crate::transport::Transport::from_token(self.transport).is_some_and(|t| t.is_reliable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn the_sip_2_0_shortcut_reads_what_the_general_path_reads() {
        for (value, protocol) in [
            (&b"SIP/2.0/UDP a.example.com;branch=z9hG4bK1"[..], "SIP"),
            (b"SIP / 2.0 / UDP a.example.com;branch=z9hG4bK1", "SIP"),
            (b"sip/2.0/UDP a.example.com;branch=z9hG4bK1", "sip"),
        ] {
            let v = Via::parse(value).unwrap();
            assert_eq!(
                (v.protocol, v.version, v.transport),
                (protocol, "2.0", "UDP")
            );
            assert_eq!(v.branch(), Some("z9hG4bK1"));
        }
        // The shortcut still wants the transport and the LWS before sent-by.
        assert!(Via::parse(b"SIP/2.0/").is_none());
        assert!(Via::parse(b"SIP/2.0/UDPa.example.com").is_none());
    }

    #[test]
    fn tortuous_via() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
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
            b"SIP/2.0/UDP h,",
        ] {
            assert!(Via::parse(bad).is_none(), "{:?}", core::str::from_utf8(bad));
        }
    }
}
