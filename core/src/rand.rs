//! The seeded generator behind branches, tags and Call-IDs (so a whole run is reproducible
//! from one seed), and the text forms those identifiers take.

/// xoshiro256** seeded through SplitMix64: fast, small, and good enough for identifiers that
/// must be unique and unguessable by peers without the seed. Not a cryptographic generator:
/// seed it from a real entropy source in production.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Fills `out` with lowercase hex digits and returns it as text.
    pub fn hex<'o>(&mut self, out: &'o mut [u8]) -> &'o str {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut bits = 0u64;
        for (i, b) in out.iter_mut().enumerate() {
            if i % 16 == 0 {
                bits = self.next_u64();
            }
            *b = DIGITS[(bits & 0xf) as usize];
            bits >>= 4;
        }
        // Hex digits are ASCII.
        core::str::from_utf8(out).unwrap_or("")
    }
}

/// A branch: the magic cookie and 16 random hex digits (§8.1.1.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Branch([u8; 23]);

impl Branch {
    /// A fresh branch.
    pub fn new(rng: &mut Rng) -> Branch {
        let mut b = [0u8; 23];
        b[..7].copy_from_slice(b"z9hG4bK");
        rng.hex(&mut b[7..]);
        Branch(b)
    }

    /// The branch as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// A tag or Call-ID: 16 random hex digits (§19.3 asks for at least 32 bits of randomness).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token([u8; 16]);

impl Token {
    /// A fresh token.
    pub fn new(rng: &mut Rng) -> Token {
        let mut b = [0u8; 16];
        rng.hex(&mut b);
        Token(b)
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_distinct() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let x = Branch::new(&mut a);
        let y = Branch::new(&mut a);
        assert_ne!(x, y);
        assert!(x.as_str().starts_with("z9hG4bK"));
        assert_eq!(x.as_str().len(), 23);
        assert_eq!(Token::new(&mut Rng::new(1)).as_str().len(), 16);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
