//! Transaction matching keys (RFC 3261 §17.1.3, §17.2.3).
//!
//! Keys are 64-bit SipHash-2-4 digests under a secret key drawn from the endpoint's seeded
//! generator, so a table slot stores a fixed-size key whatever the length of the branch, and
//! a peer cannot craft colliding branches without knowing the secret.

use crate::message::headers::Via;
use crate::message::Host;

/// Which side and kind of transaction a key names, mixed into the digest so that a client
/// and a server transaction with the same branch never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum KeyKind {
    Client = 1,
    Server = 2,
    #[cfg(feature = "rfc2543")]
    Server2543 = 3,
}

/// A transaction key: the digest of the fields §17 matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionKey(pub(crate) u64);

/// SipHash-2-4 over a stream of byte slices, keyed.
#[derive(Clone, Copy)]
pub(crate) struct KeyHasher {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    len: u64,
}

impl KeyHasher {
    // Out of line with `small-code`: it is called for every key, from several places.
    #[cfg_attr(feature = "small-code", inline(never))]
    pub(crate) fn new(k0: u64, k1: u64, kind: KeyKind) -> Self {
        KeyHasher {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            // The kind byte already fed, as `write(&[kind as u8])` would: the first byte of
            // the tail, one byte long (no zeroed fields: a zero-filled start costs a
            // `memclr` call on 32-bit targets).
            tail: kind as u64,
            ntail: 1,
            len: 1,
        }
    }

    #[inline]
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    #[inline]
    fn block(&mut self, m: u64) {
        self.v[3] ^= m;
        Self::round(&mut self.v);
        Self::round(&mut self.v);
        self.v[0] ^= m;
    }

    /// Feeds bytes.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.tail |= u64::from(b) << (8 * self.ntail);
            self.ntail += 1;
            if self.ntail == 8 {
                let m = self.tail;
                self.block(m);
                self.tail = 0;
                self.ntail = 0;
            }
        }
        self.len = self.len.wrapping_add(bytes.len() as u64);
    }

    /// Feeds bytes folded to ASCII lowercase (for case-insensitive fields such as hosts).
    pub(crate) fn write_lower(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write(&[b.to_ascii_lowercase()]);
        }
    }

    /// Feeds a field followed by a separator no field contains, so that `ab|c` and `a|bc`
    /// differ.
    pub(crate) fn field(&mut self, bytes: &[u8]) {
        self.write(bytes);
        self.write(&[0xff]);
    }

    pub(crate) fn finish(mut self) -> TransactionKey {
        let b = ((self.len & 0xff) << 56) | self.tail;
        self.block(b);
        self.v[2] ^= 0xff;
        for _ in 0..4 {
            Self::round(&mut self.v);
        }
        // Zero marks an unused key in the table; fold it away.
        TransactionKey((self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]).max(1))
    }
}

/// Feeds a Via's sent-by (host folded to lowercase, port or the transport's default).
pub(crate) fn write_sent_by(h: &mut KeyHasher, via: &Via<'_>) {
    match via.host {
        Host::Name(n) => h.write_lower(n.as_bytes()),
        Host::Ipv4(a) => h.write(&a.octets()),
        Host::Ipv6(a) => h.write(&a.octets()),
    }
    h.write(&[0xfe]);
    let default = if via.transport.eq_ignore_ascii_case("TLS") {
        5061
    } else {
        5060
    };
    h.write(&via.port.unwrap_or(default).to_be_bytes());
}

/// The method a transaction is keyed under: an ACK belongs to its INVITE (§17.2.3).
pub(crate) fn key_method(method: &str) -> &str {
    if method == "ACK" {
        "INVITE"
    } else {
        method
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vector of the SipHash paper (key 00..0f, message 00..0e).
    #[test]
    fn siphash_reference_vector() {
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let mut h = KeyHasher::new(k0, k1, KeyKind::Client);
        // Undo the kind byte: hash from a fresh state instead.
        h.v = [
            k0 ^ 0x736f_6d65_7073_6575,
            k1 ^ 0x646f_7261_6e64_6f6d,
            k0 ^ 0x6c79_6765_6e65_7261,
            k1 ^ 0x7465_6462_7974_6573,
        ];
        h.tail = 0;
        h.ntail = 0;
        h.len = 0;
        let msg: [u8; 15] = core::array::from_fn(|i| i as u8);
        h.write(&msg);
        assert_eq!(h.finish().0, 0xa129_ca61_49be_45e5_u64);
    }

    #[test]
    fn fields_are_separated() {
        let mut a = KeyHasher::new(1, 2, KeyKind::Server);
        a.field(b"ab");
        a.field(b"c");
        let mut b = KeyHasher::new(1, 2, KeyKind::Server);
        b.field(b"a");
        b.field(b"bc");
        assert_ne!(a.finish(), b.finish());
        let c = KeyHasher::new(1, 2, KeyKind::Client);
        let d = KeyHasher::new(1, 2, KeyKind::Server);
        assert_ne!(c.finish(), d.finish());
    }
}
