//! Lexical building blocks of the SIP grammar (RFC 3261 §25.1): character classes, linear
//! white space, tokens and quoted strings, over a byte cursor.
//!
//! Header values handed out by the parser still contain their folding (`CRLF` followed by
//! `SP`/`HTAB`), because parsing is zero-copy. The header splitter guarantees that inside a
//! value every line break is followed by white space, so treating CR and LF as white space
//! here is exactly the `LWS` rule of §25.1.

/// `alphanum`.
pub(crate) const ALPHANUM: u8 = 1 << 0;
/// `token` characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
pub(crate) const TOKEN: u8 = 1 << 1;
/// `word` characters (Call-ID): token plus "(" ")" "<" ">" ":" "\" DQUOTE "/" "[" "]" "?" "{" "}".
pub(crate) const WORD: u8 = 1 << 2;
/// `unreserved`: alphanum / mark ("-" "_" "." "!" "~" "*" "'" "(" ")").
pub(crate) const UNRESERVED: u8 = 1 << 3;
/// White space inside a header value: SP, HTAB, CR, LF (see the module doc).
pub(crate) const LWS: u8 = 1 << 4;
/// `gen-value` characters outside quoted strings (§25.1 `gen-value = token / host /
/// quoted-string`): token plus `[ ] :` for an IPv6 reference.
pub(crate) const GENVALUE: u8 = 1 << 5;
/// Parameter-name characters: token plus the URI `paramchar` extras `[ ] / : & $ ( )`.
pub(crate) const PNAME: u8 = 1 << 6;
/// Bytes that may appear in an unquoted parameter value as read lazily: anything but white
/// space, `;` and `,`.
pub(crate) const PVALUE: u8 = 1 << 7;

/// The classes of bytes `0..N`.
const fn class_table<const N: usize>() -> [u8; N] {
    let mut t = [0u8; N];
    let mut c = 0usize;
    while c < N {
        let b = c as u8;
        let mut f = 0u8;
        let alnum = b.is_ascii_alphanumeric();
        if alnum {
            f |= ALPHANUM | TOKEN | WORD | UNRESERVED;
        }
        if matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        ) {
            f |= TOKEN | WORD;
        }
        if matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        ) {
            f |= WORD;
        }
        if matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        ) {
            f |= UNRESERVED;
        }
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            f |= LWS;
        }
        if f & TOKEN != 0 || matches!(b, b'[' | b']' | b':') {
            f |= GENVALUE;
        }
        if f & TOKEN != 0 || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'$' | b'(' | b')') {
            f |= PNAME;
        }
        if f & LWS == 0 && b != b';' && b != b',' {
            f |= PVALUE;
        }
        t[c] = f;
        c += 1;
    }
    t
}

/// Every byte's classes.
#[cfg(not(feature = "small-code"))]
static CLASS: [u8; 256] = class_table();
/// `small-code`: the ASCII bytes' classes only (128 bytes of flash less); a byte past the
/// table (not ASCII) is in `PVALUE` alone, as in the full table.
#[cfg(feature = "small-code")]
static CLASS: [u8; 128] = class_table();

/// Whether `b` belongs to every class in `mask`.
#[inline(always)]
pub(crate) fn is(b: u8, mask: u8) -> bool {
    // With the full table the index is always in range and the fallback folds away.
    CLASS.get(usize::from(b)).copied().unwrap_or(PVALUE) & mask == mask
}

/// The end of the run of bytes in every class of `mask` that starts at `i` (`i` itself if
/// there is none, or if `i` is past the end).
///
/// Eight bytes at a time first, their classes ANDed so that one test covers the eight (one
/// branch, not eight); the last bytes, and the eight that hold the end of the run, one at a
/// time. That pays on long runs (a Call-ID) and costs on short ones (a host label, a
/// parameter name), so it is used where runs are long. `small-code` keeps the byte loop
/// alone.
#[inline]
pub(crate) fn class_end(s: &[u8], mut i: usize, mask: u8) -> usize {
    #[cfg(not(feature = "small-code"))]
    while let Some(chunk) = s.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let all = chunk
            .iter()
            .fold(u8::MAX, |acc, &b| acc & CLASS[usize::from(b)]);
        if all & mask != mask {
            break;
        }
        i += 8;
    }
    while let Some(&b) = s.get(i) {
        if !is(b, mask) {
            break;
        }
        i += 1;
    }
    i
}

/// Whether `s` is `lower`, a name of lowercase ASCII letters only, in any case.
///
/// For a letter `l`, `b | 0x20 == l` holds exactly when `b` is `l` in either case (no other
/// byte turns into a lowercase letter when bit 0x20 is set), so every byte is folded the
/// same way and the comparison is branch-free over a fixed length.
#[inline(always)]
pub(crate) fn eq_letters<const N: usize>(s: &[u8], lower: &[u8; N]) -> bool {
    debug_assert!(lower.iter().all(u8::is_ascii_lowercase));
    match <&[u8; N]>::try_from(s) {
        Ok(s) => {
            s.iter()
                .zip(lower)
                .fold(0, |acc, (&b, &l)| acc | ((b | 0x20) ^ l))
                == 0
        }
        Err(_) => false,
    }
}

/// Whether every byte of `s` is a `token` character and `s` is not empty.
#[inline]
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is(b, TOKEN))
}

/// Trims `LWS` from both ends of a slice.
#[inline]
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is(*first, LWS) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is(*last, LWS) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Whether every byte of `s` is below 0x80, as `<[u8]>::is_ascii` (the tests
/// `is_ascii_every_length_and_position` and `is_ascii_is_the_standard_one` hold it to that),
/// but inlined and with no loop up to 16 bytes, the tokens and tags a message is made of:
/// two words, overlapping as needed, cover them (the bit 0x80 of every byte tested at
/// once). Longer slices take a word at a time, then the last word. The standard one is a
/// call, and checks the alignment of longer slices before its word loop: on the parse
/// benchmark with the proxy's typed reads this runs 77 fewer instructions (1 %), and
/// `bench/ab-parse.sh` measured it 0.7-4.2 % faster.
#[inline(always)]
fn is_ascii(s: &[u8]) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    let word = |w: &[u8; 8]| u64::from_le_bytes(*w);
    let half = |w: &[u8; 4]| u64::from(u32::from_le_bytes(*w));
    let high = match (s.first_chunk::<8>(), s.last_chunk::<8>()) {
        (Some(first), Some(last)) if s.len() <= 16 => word(first) | word(last),
        (Some(_), Some(last)) => {
            s.chunks_exact(8)
                .filter_map(|c| c.first_chunk::<8>())
                .fold(0, |acc, c| acc | word(c))
                | word(last)
        }
        _ => match (s.first_chunk::<4>(), s.last_chunk::<4>()) {
            (Some(first), Some(last)) => half(first) | half(last),
            _ => s.iter().fold(0, |acc, &b| acc | u64::from(b)),
        },
    };
    high & HI == 0
}

/// Views bytes as `str`: `None` exactly when they are not UTF-8, as
/// `core::str::from_utf8(s).ok()` would.
///
/// The callers pass bytes that a character class has accepted, nearly always ASCII: those
/// are checked with `is_ascii` (a word at a time) and viewed without a second, byte-by-byte
/// validation, which costs three times as much on the short tokens a message is made of
/// (branch, tags, Call-ID, host names, URIs). Anything else goes through `from_utf8`.
#[inline]
pub(crate) fn ascii(s: &[u8]) -> Option<&str> {
    // The shortcut is for speed: `small-code` (firmware) validates every slice the one way.
    if !cfg!(feature = "small-code") && is_ascii(s) {
        // The core's one `unsafe` (see lib.rs).
        #[allow(unsafe_code)]
        // SAFETY: every byte is below 0x80 (`is_ascii`, tested above to be exactly
        // `<[u8]>::is_ascii`), and a sequence of ASCII bytes is valid UTF-8 (each is a
        // one-byte code point).
        Some(unsafe { core::str::from_utf8_unchecked(s) })
    } else {
        core::str::from_utf8(s).ok()
    }
}

/// The index of the first `needle` at or after `from`: sixteen bytes at a time (over
/// `chunks_exact`, whose loop keeps no bounds check of its own), then eight, then one.
///
/// On targets with 128-bit SIMD (x86-64's SSE2, AArch64's NEON) the test of a 16-byte chunk
/// is written as a map and a fold over an array, which LLVM turns into one vector compare
/// and a mask test; elsewhere the chunk is two words tested the SWAR way ("has a zero
/// byte"). Either way the position inside a chunk that holds the byte comes from the words.
///
/// With the `small-code` feature it is a plain byte loop, out of line: the word-wise one
/// costs about 0.9 KB of flash wherever it is inlined.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
pub(crate) fn find_byte(buf: &[u8], from: usize, needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    // The lowest zero byte of `x` is flagged exactly; flags above it may be false positives
    // (a borrow), which do not matter since only the lowest is used.
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let rest = buf.get(from..)?;
    let mut chunks = rest.chunks_exact(16);
    let mut i = from;
    // `chunks_exact` gives 16-byte chunks only, so neither `break` below is ever taken (the
    // tail after the loop starts where the chunks end).
    for chunk in &mut chunks {
        let Ok(chunk) = <&[u8; 16]>::try_from(chunk) else {
            break;
        };
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        let hit = chunk
            .map(|c| u8::from(c == needle))
            .iter()
            .fold(0u8, |acc, &x| acc | x)
            != 0;
        let (a, b) = chunk.split_at(8);
        let (Ok(a), Ok(b)) = (<[u8; 8]>::try_from(a), <[u8; 8]>::try_from(b)) else {
            break;
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        let hit =
            zero(u64::from_le_bytes(a) ^ pattern) | zero(u64::from_le_bytes(b) ^ pattern) != 0;
        if hit {
            let fa = zero(u64::from_le_bytes(a) ^ pattern);
            let fb = zero(u64::from_le_bytes(b) ^ pattern);
            return Some(if fa != 0 {
                i + (fa.trailing_zeros() / 8) as usize
            } else {
                i + 8 + (fb.trailing_zeros() / 8) as usize
            });
        }
        i += 16;
    }
    if chunks.remainder().is_empty() {
        return None;
    }
    // The last bytes, fewer than 16: the last 16 bytes of `buf` (when it has that many)
    // as one more chunk, the bytes before `i` (searched already, or before `from`) masked
    // off. A message's last lines end here, so this is often taken.
    if let Some(last) = buf.last_chunk::<16>() {
        // Exact per byte (no borrow from a lower byte, which may be a masked-off match):
        // bit 7 of each byte that is zero.
        let exact_zero = |x: u64| !((x & !HI).wrapping_add(!HI) | x | !HI);
        let base = buf.len() - 16;
        // 1 to 15: `i` is within the last 16 bytes, and before their end.
        let skip = i - base;
        let (a, b) = last.split_at(8);
        let (Ok(a), Ok(b)) = (<[u8; 8]>::try_from(a), <[u8; 8]>::try_from(b)) else {
            return None;
        };
        let mut fa = exact_zero(u64::from_le_bytes(a) ^ pattern);
        let mut fb = exact_zero(u64::from_le_bytes(b) ^ pattern);
        if skip >= 8 {
            fa = 0;
            fb &= u64::MAX << (8 * (skip - 8));
        } else {
            fa &= u64::MAX << (8 * skip);
        }
        return if fa != 0 {
            Some(base + (fa.trailing_zeros() / 8) as usize)
        } else if fb != 0 {
            Some(base + 8 + (fb.trailing_zeros() / 8) as usize)
        } else {
            None
        };
    }
    buf.get(i..)?
        .iter()
        .position(|&b| b == needle)
        .map(|p| i + p)
}

/// The index of the first `needle` at or after `from`, one byte at a time (feature
/// `small-code`: the smallest code, for firmware).
#[cfg(feature = "small-code")]
#[inline(never)]
pub(crate) fn find_byte(buf: &[u8], from: usize, needle: u8) -> Option<usize> {
    buf.get(from..)?
        .iter()
        .position(|&b| b == needle)
        .map(|p| from + p)
}

/// Splits `s` at its first `sep`, an ASCII byte: the text before and after it, or `None`
/// if there is none. Like `str::split_once` with a `char` pattern, but a byte search
/// ([`find_byte`]), so that no `char` searcher or `memchr` is linked for it.
pub(crate) fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = find_byte(s.as_bytes(), 0, sep)?;
    // An ASCII byte is a character boundary on both sides: neither `get` fails.
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// The pieces of `s` between the `sep`s (an ASCII byte), like `str::split` with a `char`
/// pattern: `""` gives one empty piece, a trailing `sep` a last empty one.
pub(crate) fn split_byte(s: &str, sep: u8) -> SplitByte<'_> {
    SplitByte { rest: Some(s), sep }
}

/// The iterator of [`split_byte`].
pub(crate) struct SplitByte<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        match split_once_byte(s, self.sep) {
            Some((piece, rest)) => {
                self.rest = Some(rest);
                Some(piece)
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

/// A `token` as `str`. The tokens nearly every message holds (the methods of RFC 3261 §27.4
/// and the usual Via protocol, version and transports) are matched to constants of the same
/// text first, which is cheaper than checking UTF-8; any other slice goes through
/// [`ascii`].
#[inline]
pub(crate) fn token_str(t: &[u8]) -> Option<&str> {
    // The constants are for speed only: `small-code` (firmware) checks every token.
    if cfg!(feature = "small-code") {
        return ascii(t);
    }
    Some(match *t {
        [b'S', b'I', b'P'] => "SIP",
        [b'2', b'.', b'0'] => "2.0",
        [b'U', b'D', b'P'] => "UDP",
        [b'T', b'C', b'P'] => "TCP",
        [b'T', b'L', b'S'] => "TLS",
        [b'A', b'C', b'K'] => "ACK",
        [b'B', b'Y', b'E'] => "BYE",
        [b'I', b'N', b'V', b'I', b'T', b'E'] => "INVITE",
        [b'C', b'A', b'N', b'C', b'E', b'L'] => "CANCEL",
        [b'O', b'P', b'T', b'I', b'O', b'N', b'S'] => "OPTIONS",
        [b'R', b'E', b'G', b'I', b'S', b'T', b'E', b'R'] => "REGISTER",
        _ => return ascii(t),
    })
}

/// A forward-only cursor over one header value (or a URI).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    /// A cursor at the start of `buf`.
    #[inline]
    pub(crate) fn new(buf: &'b [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// Current offset from the start.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The underlying buffer.
    #[inline]
    pub(crate) fn buf(&self) -> &'b [u8] {
        self.buf
    }

    /// Whether the whole input is consumed.
    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next byte, if any.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Moves past `n` bytes (clamped to the end).
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }

    /// Consumes `b` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips `SWS` (any amount of linear white space, possibly none).
    #[inline]
    pub(crate) fn skip_lws(&mut self) {
        while let Some(b) = self.peek() {
            if is(b, LWS) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// `SWS sep SWS` for a separator such as `;` `=` `,` `/` `:`: consumes it and the white
    /// space around it, or nothing.
    #[inline]
    pub(crate) fn eat_sep(&mut self, sep: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(sep) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// The longest run of bytes in class `mask` (may be empty).
    #[inline]
    pub(crate) fn take_class(&mut self, mask: u8) -> &'b [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&b| !is(b, mask))
            .unwrap_or(rest.len());
        self.pos += n;
        rest.get(..n).unwrap_or_default()
    }

    /// The longest run of bytes for which `f` holds (may be empty).
    #[inline]
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'b [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if f(b) {
                self.pos += 1;
            } else {
                break;
            }
        }
        &self.buf[start..self.pos]
    }

    /// `1*DIGIT` read as a number no greater than `max` (at most `u32::MAX`), in one pass:
    /// `None` if no digit is next or the number is larger than `max` (the cursor is then
    /// left inside the digits).
    #[inline]
    pub(crate) fn number(&mut self, max: u32) -> Option<u32> {
        let start = self.pos;
        // Below `max` before each step, so `v * 10 + 9` fits in a u64.
        let mut v: u64 = 0;
        while let Some(d) = self
            .peek()
            .and_then(|b| b.checked_sub(b'0'))
            .filter(|&d| d < 10)
        {
            v = v * 10 + u64::from(d);
            if v > u64::from(max) {
                return None;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        u32::try_from(v).ok()
    }

    /// A non-empty `token`.
    #[inline]
    pub(crate) fn token(&mut self) -> Option<&'b str> {
        let t = self.take_class(TOKEN);
        if t.is_empty() {
            None
        } else {
            token_str(t)
        }
    }

    /// A `quoted-string` (§25.1) starting at the opening DQUOTE: returns the text between the
    /// quotes, still escaped (`quoted-pair` kept as is). `None` if unterminated.
    pub(crate) fn quoted_string(&mut self) -> Option<&'b [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    let inner = &self.buf[start..self.pos];
                    self.pos += 1;
                    return Some(inner);
                }
                b'\\' => {
                    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\r') | Some(b'\n') | None => return None,
                        Some(q) if q > 0x7f => return None,
                        Some(_) => self.pos += 1,
                    }
                }
                _ => self.pos += 1,
            }
        }
        None
    }
}

/// Splits a header value at top-level commas (§7.3.1): commas inside a quoted string or
/// between `<` and `>` do not split. Empty elements (`a,,b`) are skipped.
#[derive(Clone, Debug)]
pub struct CommaValues<'b> {
    rest: &'b [u8],
}

impl<'b> CommaValues<'b> {
    /// The elements of one header value.
    pub fn new(value: &'b [u8]) -> Self {
        CommaValues { rest: value }
    }
}

impl<'b> Iterator for CommaValues<'b> {
    type Item = &'b [u8];

    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (item, rest) = split_first(self.rest);
            self.rest = rest;
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

/// Splits a header value at its first top-level comma (§7.3.1; see [`CommaValues`]): the
/// element before it, trimmed (possibly empty), and everything after it.
pub(crate) fn split_first(s: &[u8]) -> (&[u8], &[u8]) {
    let mut i = 0;
    let mut in_quote = false;
    let mut in_angle = false;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b'<' if !in_quote => in_angle = true,
            b'>' if !in_quote => in_angle = false,
            b',' if !in_quote && !in_angle => break,
            _ => {}
        }
        i += 1;
    }
    let end = i.min(s.len());
    (
        trim(s.get(..end).unwrap_or_default()),
        s.get(end + 1..).unwrap_or_default(),
    )
}

/// Removes `quoted-pair` escapes from the inside of a quoted string into `out`, returning the
/// written prefix, or `None` if `out` is too small.
pub fn unescape_quoted<'o>(inner: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut n = 0;
    let mut i = 0;
    while i < inner.len() {
        let mut b = inner[i];
        if b == b'\\' && i + 1 < inner.len() {
            i += 1;
            b = inner[i];
        }
        *out.get_mut(n)? = b;
        n += 1;
        i += 1;
    }
    Some(&out[..n])
}

/// Decodes one `%HH` escape's two hex digits.
#[inline]
pub(crate) fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    fn v(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    Some(v(hi)? << 4 | v(lo)?)
}

/// Parses a decimal number of at most `max` without overflow; leading zeros are allowed
/// (§25.1 `1*DIGIT`). `None` for an empty, non-digit or out-of-range input.
#[inline]
pub(crate) fn parse_u64(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classes() {
        assert!(is_token(b"INVITE"));
        assert!(is_token(b"!interesting-Method0123456789_*+`.%indeed'~"));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b""));
        assert!(is(b'<', WORD) && !is(b'<', TOKEN));
    }

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v: [&[u8]; 3] = [b"\"a,b\" <sip:x@y;p=1,2>", b"<sip:z@w>", b"c"];
        let got: heapless_like::Vec3 =
            CommaValues::new(b"\"a,b\" <sip:x@y;p=1,2> ,\r\n <sip:z@w>,, c").collect();
        assert_eq!(got.0, v);
    }

    mod heapless_like {
        pub struct Vec3<'a>(pub [&'a [u8]; 3]);
        impl<'a> FromIterator<&'a [u8]> for Vec3<'a> {
            fn from_iter<I: IntoIterator<Item = &'a [u8]>>(it: I) -> Self {
                let mut out: [&[u8]; 3] = [b""; 3];
                let mut n = 0;
                for x in it {
                    out[n] = x;
                    n += 1;
                }
                assert_eq!(n, 3);
                Vec3(out)
            }
        }
    }

    #[test]
    fn quoted() {
        let mut c = Cursor::new(br#""J Rosenberg \\\"" <x>"#);
        assert_eq!(c.quoted_string(), Some(&br#"J Rosenberg \\\""#[..]));
        let mut c = Cursor::new(b"\"unterminated");
        assert_eq!(c.quoted_string(), None);
        let mut out = [0u8; 32];
        assert_eq!(
            unescape_quoted(br#"J Rosenberg \\\""#, &mut out),
            Some(&br#"J Rosenberg \""#[..])
        );
    }

    #[test]
    fn cursor_number() {
        let read = |s: &'static [u8], max: u32| {
            let mut c = Cursor::new(s);
            c.number(max).map(|n| (n, c.pos()))
        };
        assert_eq!(read(b"5060;x", 65535), Some((5060, 4)));
        assert_eq!(read(b"0005060", 65535), Some((5060, 7)));
        assert_eq!(read(b"65535", 65535), Some((65535, 5)));
        assert_eq!(read(b"65536", 65535), None);
        assert_eq!(read(b"4294967295 ", u32::MAX), Some((u32::MAX, 10)));
        assert_eq!(read(b"4294967296", u32::MAX), None);
        assert_eq!(read(b"99999999999999999999999", u32::MAX), None);
        assert_eq!(read(b"", 10), None);
        assert_eq!(read(b"x1", 10), None);
        assert_eq!(read(b"-1", 10), None);
        // As `parse_u64` over the digits reads them.
        for s in [
            &b"0"[..],
            b"7",
            b"42 INVITE",
            b"2147483647",
            b"2147483648",
            b"123456789012",
        ] {
            let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
            let want = parse_u64(&s[..digits], (1 << 31) - 1).map(|v| v as u32);
            assert_eq!(Cursor::new(s).number((1 << 31) - 1), want, "{s:?}");
        }
    }

    #[test]
    fn eq_letters_is_eq_ignore_ascii_case() {
        // Every byte against every letter: folding bit 0x20 is exact for letters.
        for l in b'a'..=b'z' {
            for b in 0..=u8::MAX {
                assert_eq!(
                    eq_letters(&[b], &[l]),
                    b.eq_ignore_ascii_case(&l),
                    "{b:#x} {l}"
                );
            }
        }
        assert!(eq_letters(b"BrAnCh", b"branch"));
        assert!(!eq_letters(b"branc", b"branch"));
        assert!(!eq_letters(b"branchx", b"branch"));
        assert!(!eq_letters(b"bran\x03h", b"branch"));
        assert!(eq_letters(b"", &[]));
    }

    #[test]
    fn find_byte_every_offset() {
        let mut buf = [b'a'; 40];
        for needle in [b'\n', b'>', 0x80, 0xff, 0] {
            for i in 0..40 {
                buf.fill(b'a');
                buf[i] = needle;
                for from in 0..=i {
                    assert_eq!(find_byte(&buf, from, needle), Some(i), "{needle} at {i}");
                }
                assert_eq!(find_byte(&buf, i + 1, needle), None);
            }
            assert_eq!(find_byte(&buf, 41, needle), None);
        }
        // A byte one above the needle next to it (a borrow) must not be found.
        assert_eq!(find_byte(b"\x0b\x0a", 0, b'\n'), Some(1));
        assert_eq!(
            find_byte(b"\x01\x00\x01\x01\x01\x01\x01\x01\x01", 0, 0),
            Some(1)
        );
    }

    /// Against a byte loop, with the needle before `from` as well (a match in the bytes the
    /// last, overlapping chunk masks off), and the bytes around it one bit off it (so that a
    /// borrow from a masked-off match would show as a false one).
    #[test]
    fn find_byte_is_the_byte_loop() {
        for needle in [b'\n', 0, 0x80, 0xff] {
            for len in 0..=36 {
                let mut buf = std::vec![needle ^ 1; len];
                for p1 in 0..=len {
                    for p2 in p1..=len {
                        buf.fill(needle ^ 1);
                        if let Some(b) = buf.get_mut(p1) {
                            *b = needle;
                        }
                        if let Some(b) = buf.get_mut(p2) {
                            *b = needle;
                        }
                        for from in 0..=len + 1 {
                            let want = buf
                                .get(from..)
                                .and_then(|r| r.iter().position(|&b| b == needle))
                                .map(|p| from + p);
                            assert_eq!(
                                find_byte(&buf, from, needle),
                                want,
                                "{needle} at {p1} and {p2} in {len}, from {from}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ascii_is_from_utf8() {
        for s in [
            &b""[..],
            b"z9hG4bK74bf9",
            b"3848276298220188511@pc33.atlanta.example.com",
            "J\u{f6}rg".as_bytes(),
            "\u{1f4de} call".as_bytes(),
            b"\x80",
            b"abc\xff",
            b"\xc3",
            b"\xed\xa0\x80",
            b"\x7f\x00\x01",
        ] {
            assert_eq!(ascii(s), core::str::from_utf8(s).ok(), "{s:?}");
        }
    }

    #[test]
    fn is_ascii_every_length_and_position() {
        for len in 0..=40 {
            let mut s = std::vec![0x7f_u8; len];
            assert!(is_ascii(&s), "{len}");
            for at in 0..len {
                for high in [0x80, 0xc3, 0xff] {
                    s[at] = high;
                    assert!(!is_ascii(&s), "{len} {at} {high:#x}");
                }
                s[at] = b'a';
            }
        }
    }

    proptest! {
        #[test]
        fn is_ascii_is_the_standard_one(
            s in proptest::collection::vec(
                prop_oneof![4 => 0u8..0x80, 1 => any::<u8>()], 0..80),
        ) {
            prop_assert_eq!(is_ascii(&s), s.is_ascii());
        }
    }

    #[test]
    fn token_strings() {
        for t in [
            &b"SIP"[..],
            b"2.0",
            b"UDP",
            b"TCP",
            b"TLS",
            b"ACK",
            b"BYE",
            b"INVITE",
            b"CANCEL",
            b"OPTIONS",
            b"REGISTER",
            b"invite",
            b"SIPS",
            b"X",
            b"",
        ] {
            assert_eq!(token_str(t).map(str::as_bytes), Some(t));
        }
        assert_eq!(token_str(b"\xff"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"0068", 255), Some(68));
        assert_eq!(parse_u64(b"256", 255), None);
        assert_eq!(parse_u64(b"99999999999999999999999", u64::MAX), None);
        assert_eq!(parse_u64(b"-1", 10), None);
    }
}
