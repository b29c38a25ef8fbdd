//! IP address literals in SIP text, read and written by hand: RFC 3261 §25.1 `IPv4address`,
//! `IPv6address` and `IPv6reference`, written in the RFC 5952 text form. IPv6 is feature
//! `ipv6` (default): without it the stack is IPv4-only.
//!
//! They accept and produce exactly what `core::net`'s `FromStr` and `Display` do (the tests
//! check both against it), without `core::fmt` and its parser: on a microcontroller those
//! cost about 5 KB of flash for the few addresses a message holds.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{WriteError, Writer};

/// A cursor over the text of an address; every `read_*` leaves it where it was on failure.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Runs `f`, rewinding when it finds nothing.
    fn atomically<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let at = self.at;
        let r = f(self);
        if r.is_none() {
            self.at = at;
        }
        r
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.s.get(self.at) == Some(&c)).then(|| self.at += 1)
    }

    /// A number of 1 to `max_digits` digits in `radix` (10 or 16) no larger than `limit`;
    /// with `zero_prefix` false, a leading `0` only as the whole number.
    fn number(
        &mut self,
        radix: u32,
        max_digits: usize,
        zero_prefix: bool,
        limit: u32,
    ) -> Option<u32> {
        self.atomically(|c| {
            let first = c.at;
            let mut value = 0u32;
            while let Some(d) = c.s.get(c.at).and_then(|&b| char::from(b).to_digit(radix)) {
                if c.at - first == max_digits {
                    return None;
                }
                value = value * radix + d;
                c.at += 1;
            }
            let digits = c.at - first;
            let zero_led = digits > 1 && c.s.get(first) == Some(&b'0');
            (digits > 0 && value <= limit && (zero_prefix || !zero_led)).then_some(value)
        })
    }

    /// `sep` (unless this is the first part), then what `f` reads.
    fn part<T>(
        &mut self,
        sep: u8,
        first: bool,
        f: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<T> {
        self.atomically(|c| {
            if !first {
                c.eat(sep)?;
            }
            f(c)
        })
    }

    /// Four decimal octets separated by dots, no leading zeros (as `core::net` reads them).
    fn ipv4(&mut self) -> Option<Ipv4Addr> {
        self.atomically(|c| {
            // Gathered in a register: octets stored one at a time and read back as one
            // word would stall the load (store forwarding fails).
            let mut addr = 0u32;
            for i in 0..4 {
                let n = c.part(b'.', i == 0, |c| c.number(10, 3, false, 255))?;
                addr = addr << 8 | u32::from(u8::try_from(n).ok()?);
            }
            Some(Ipv4Addr::from(addr))
        })
    }

    #[cfg(feature = "ipv6")]
    /// Groups of 1 to 4 hex digits separated by colons into `groups`, the last two possibly
    /// as a dotted IPv4 address: how many were read, and whether an IPv4 address ended them.
    fn groups(&mut self, groups: &mut [u16]) -> (usize, bool) {
        let limit = groups.len();
        for i in 0..limit {
            // RFC 4291 §2.2 form 3: a trailing IPv4 address fills the last two groups.
            if i + 1 < limit {
                if let Some(v4) = self.part(b':', i == 0, Cursor::ipv4) {
                    let [a, b, c, d] = v4.octets();
                    groups[i] = u16::from_be_bytes([a, b]);
                    groups[i + 1] = u16::from_be_bytes([c, d]);
                    return (i + 2, true);
                }
            }
            match self.part(b':', i == 0, |c| c.number(16, 4, true, 0xffff)) {
                // `number` kept the value within 0xffff.
                Some(g) => groups[i] = g as u16,
                None => return (i, false),
            }
        }
        (limit, false)
    }

    #[cfg(feature = "ipv6")]
    /// RFC 4291 §2.2: eight groups, or fewer around one `::`.
    fn ipv6(&mut self) -> Option<Ipv6Addr> {
        self.atomically(|c| {
            let mut head = [0u16; 8];
            let (head_len, head_v4) = c.groups(&mut head);
            if head_len == 8 {
                return Some(Ipv6Addr::from(head));
            }
            // An IPv4 part only ends an address, never precedes `::`.
            if head_v4 {
                return None;
            }
            c.eat(b':')?;
            c.eat(b':')?;
            // `::` stands for at least one zero group.
            let mut tail = [0u16; 7];
            let room = 7 - head_len;
            let (tail_len, _) = c.groups(&mut tail[..room]);
            head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
            Some(Ipv6Addr::from(head))
        })
    }

    /// `r` if the whole text was read.
    fn all<T>(&self, r: Option<T>) -> Option<T> {
        r.filter(|_| self.at == self.s.len())
    }
}

/// An IPv4 address in dotted-decimal form (RFC 3261 §25.1 `IPv4address`, without leading
/// zeros).
pub(crate) fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut c = Cursor { s, at: 0 };
    let r = c.ipv4();
    c.all(r)
}

#[cfg(feature = "ipv6")]
/// An IPv6 address (RFC 3261 §25.1 `IPv6address`, RFC 4291 §2.2), without brackets.
pub(crate) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    let mut c = Cursor { s, at: 0 };
    let r = c.ipv6();
    c.all(r)
}

/// Without feature `ipv6` no IPv6 address is read: an `IPv6reference` in a URI, or an
/// IPv6 `received`, is malformed.
#[cfg(not(feature = "ipv6"))]
pub(crate) fn parse_ipv6(_: &[u8]) -> Option<Ipv6Addr> {
    None
}

/// Without feature `ipv6` no IPv6 address is written: building a message that would name
/// one fails.
#[cfg(not(feature = "ipv6"))]
pub(crate) fn write_ipv6(_: &mut Writer<'_>, _: Ipv6Addr) -> Result<(), WriteError> {
    Err(WriteError)
}

/// An IPv4 or IPv6 address, without brackets.
pub(crate) fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    parse_ipv4(s)
        .map(IpAddr::V4)
        .or_else(|| parse_ipv6(s).map(IpAddr::V6))
}

/// Writes an IPv4 address in dotted-decimal form.
pub(crate) fn write_ipv4(w: &mut Writer<'_>, a: Ipv4Addr) -> Result<(), WriteError> {
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            w.put(b".")?;
        }
        w.put_u32(u32::from(octet))?;
    }
    Ok(())
}

#[cfg(feature = "ipv6")]
/// Writes groups as lowercase hex without leading zeros, separated by colons.
fn write_groups(w: &mut Writer<'_>, groups: &[u16]) -> Result<(), WriteError> {
    for (i, &g) in groups.iter().enumerate() {
        if i > 0 {
            w.put(b":")?;
        }
        let mut digits = [0u8; 4];
        let mut n = 4;
        let mut v = g;
        loop {
            n -= 1;
            digits[n] = b"0123456789abcdef"[usize::from(v & 0xf)];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        w.put(&digits[n..])?;
    }
    Ok(())
}

#[cfg(feature = "ipv6")]
/// Writes an IPv6 address without brackets, in the RFC 5952 §4 form: lowercase hex, no
/// leading zeros, the first longest run of two or more zero groups as `::`; an IPv4-mapped
/// address as `::ffff:` and dotted decimal (§5).
pub(crate) fn write_ipv6(w: &mut Writer<'_>, a: Ipv6Addr) -> Result<(), WriteError> {
    if let Some(v4) = a.to_ipv4_mapped() {
        w.put(b"::ffff:")?;
        return write_ipv4(w, v4);
    }
    let g = a.segments();
    // The first longest run of zero groups: (start, length).
    let (mut best, mut run) = ((0, 0), (0, 0));
    for (i, &x) in g.iter().enumerate() {
        if x != 0 {
            run = (0, 0);
            continue;
        }
        if run.1 == 0 {
            run.0 = i;
        }
        run.1 += 1;
        if run.1 > best.1 {
            best = run;
        }
    }
    if best.1 < 2 {
        return write_groups(w, &g);
    }
    write_groups(w, &g[..best.0])?;
    w.put(b"::")?;
    write_groups(w, &g[best.0 + best.1..])
}

/// Writes an IP address as a URI or Via host: IPv4 dotted-decimal, IPv6 as an
/// `IPv6reference`, in brackets (§25.1).
pub(crate) fn write_host_ip(w: &mut Writer<'_>, ip: IpAddr) -> Result<(), WriteError> {
    match ip {
        IpAddr::V4(a) => write_ipv4(w, a),
        IpAddr::V6(a) => {
            w.put(b"[")?;
            write_ipv6(w, a)?;
            w.put(b"]")
        }
    }
}

// The tests check IPv4 and IPv6 against `core::net`: they need feature `ipv6`.
#[cfg(all(test, feature = "ipv6"))]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};

    fn written(f: impl FnOnce(&mut Writer<'_>) -> Result<(), WriteError>) -> String {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        f(&mut w).unwrap();
        String::from_utf8(w.as_bytes().to_vec()).unwrap()
    }

    /// Inputs near the edges of both grammars, each checked against `core::net`.
    const EDGES: &[&str] = &[
        "",
        "0.0.0.0",
        "255.255.255.255",
        "256.1.1.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "0.2.3.4",
        "1.2.3.04",
        "1..2.3",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.",
        "1234.1.1.1",
        "::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7",
        ":1::2",
        "1::2:",
        "1:::2",
        "1::2::3",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1.2.3.4::",
        "1:2:3:4:5:1.2.3.4",
        "::ffff:01.2.3.4",
        "00000::1",
        "0000::1",
        "fFfF::AbCd",
        "g::1",
        "2001:db8::10",
        "fe80::1%eth0",
        "[::1]",
        "::ffff:1.2.3",
        "1:2:3:4:5::1.2.3.4",
        "::1.2.3.4:5",
    ];

    #[test]
    fn edges_parse_as_core_net_does() {
        for s in EDGES {
            let b = s.as_bytes();
            assert_eq!(parse_ipv4(b), s.parse::<Ipv4Addr>().ok(), "{s:?}");
            assert_eq!(parse_ipv6(b), s.parse::<Ipv6Addr>().ok(), "{s:?}");
            assert_eq!(parse_ip(b), s.parse::<IpAddr>().ok(), "{s:?}");
        }
    }

    #[test]
    fn writes_the_rfc_5952_forms() {
        for s in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:1:1:1:1:1",
            "2001:0:0:1::1",
            "1:0:0:2:0:0:0:3",
            "::ffff:192.0.2.1",
            "fe80::abcd:ef",
        ] {
            let a: Ipv6Addr = s.parse().unwrap();
            assert_eq!(written(|w| write_ipv6(w, a)), a.to_string());
        }
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(written(|w| write_host_ip(w, v4)), "192.0.2.10");
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert_eq!(written(|w| write_host_ip(w, v6)), "[::1]");
    }

    /// Addresses whose groups are mostly zero, so that runs of zeros of every length occur.
    fn sparse_v6() -> impl Strategy<Value = Ipv6Addr> {
        proptest::array::uniform8(prop_oneof![3 => Just(0u16), 1 => any::<u16>()])
            .prop_map(Ipv6Addr::from)
    }

    proptest! {
        #[test]
        fn writes_as_core_net_and_reads_back(a in sparse_v6(), b in any::<[u8; 4]>()) {
            let text = written(|w| write_ipv6(w, a));
            prop_assert_eq!(&text, &a.to_string());
            prop_assert_eq!(parse_ipv6(text.as_bytes()), Some(a));
            let v4 = Ipv4Addr::from(b);
            let text = written(|w| write_ipv4(w, v4));
            prop_assert_eq!(&text, &v4.to_string());
            prop_assert_eq!(parse_ipv4(text.as_bytes()), Some(v4));
        }

        #[test]
        fn parses_as_core_net(s in "[0-9a-fA-F:.]{0,24}") {
            prop_assert_eq!(parse_ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok());
            prop_assert_eq!(parse_ipv6(s.as_bytes()), s.parse::<Ipv6Addr>().ok());
        }

        #[test]
        fn parses_mangled_addresses_as_core_net(a in sparse_v6(), cut in 0usize..40, c in "[0-9a-f:.]") {
            // An address with one character inserted: near-misses of the grammar.
            let mut s = a.to_string();
            let at = cut.min(s.len());
            s.insert_str(at, &c);
            prop_assert_eq!(parse_ipv6(s.as_bytes()), s.parse::<Ipv6Addr>().ok());
            prop_assert_eq!(parse_ip(s.as_bytes()), s.parse::<IpAddr>().ok());
        }
    }

    #[test]
    fn a_number_too_long_is_refused_without_overflow() {
        assert_eq!(parse_ipv6(b"ffffffffffffffffffff::1"), None);
        assert_eq!(parse_ipv4(b"99999999999.1.1.1"), None);
    }
}
