//! URIs (RFC 3261 §19.1, grammar in §25.1): SIP and SIPS URIs parsed into their parts, `tel`
//! URIs (RFC 3966) and any other absolute URI kept opaque, plus the §19.1.4 comparison.
//!
//! Parsing is zero-copy and a single forward pass (the userinfo `@` search aside, which may
//! read the rest of the URI once more when there is no userinfo). Every part is handed out as
//! written, `%HH` escapes included; [`unescape`] decodes them into a caller buffer.
//!
//! ```
//! use sipwire_core::message::{Host, Uri};
//!
//! let u = Uri::parse(b"sip:alice@atlanta.com;transport=tcp?subject=project%20x")?;
//! assert_eq!(u.user(), Some("alice"));
//! assert_eq!(u.host(), Some(Host::Name("atlanta.com")));
//! assert_eq!(u.transport(), Some("tcp"));
//! assert_eq!(u.headers(), Some("subject=project%20x"));
//! let v = Uri::parse(b"sip:%61lice@AtLanTa.CoM;Transport=TCP?subject=project%20x")?;
//! assert!(u.equivalent(&v));
//! # Ok::<(), sipwire_core::message::UriError>(())
//! ```

use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::lex::{self, find_byte, hex_pair, parse_u64};
use super::params::Params;

/// URI scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:` (RFC 3261 §19.1).
    Sip,
    /// `sips:` (RFC 3261 §19.1).
    Sips,
    /// `tel:` (RFC 3966). Without feature `tel` its text is checked and compared as any
    /// other `absoluteURI`'s.
    Tel,
    /// Any other scheme (`absoluteURI` of RFC 3261 §25.1), kept opaque.
    Other,
}

/// The host part of a SIP/SIPS URI (§25.1 `host`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'b> {
    /// A `hostname`, as written (case preserved, a trailing `.` kept).
    Name(&'b str),
    /// An `IPv4address` (leading zeros are accepted, and read as decimal).
    Ipv4(Ipv4Addr),
    /// An `IPv6reference` (written in brackets).
    Ipv6(Ipv6Addr),
}

impl Host<'_> {
    /// Compares two hosts per RFC 3261 §19.1.4: names case-insensitively, addresses by
    /// value; a name never equals an address, even one it resolves to.
    pub fn eq_host(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ipv4(a) => write!(f, "{a}"),
            // RFC 3261 §25.1 `IPv6reference = "[" IPv6address "]"`.
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Why a URI did not parse.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriError {
    /// The input is empty, or nothing follows `scheme:`.
    Empty,
    /// No `scheme ":"` at the start, or a scheme with characters outside
    /// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    BadScheme,
    /// A malformed `userinfo` (empty user, a character not allowed in user or password), or a
    /// malformed `tel` number.
    BadUserinfo,
    /// A missing or malformed host (hostname labels, IPv4 or IPv6 reference).
    BadHost,
    /// A port that is not `1*DIGIT`, or above 65535.
    BadPort,
    /// A malformed `uri-parameters` list (empty name, empty value, stray characters).
    BadParams,
    /// A malformed `headers` component (`?name=value&...`).
    BadHeaders,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A character never allowed in a URI: white space, controls, non-ASCII, `<`, `>`, `"`,
    /// `#`, `{`, `}`, `|`, `\`, `^`, `` ` ``.
    IllegalChar,
    /// The URI is longer than 65,535 bytes.
    TooLong,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriError::Empty => "empty URI",
            UriError::BadScheme => "malformed URI scheme",
            UriError::BadUserinfo => "malformed URI userinfo",
            UriError::BadHost => "malformed URI host",
            UriError::BadPort => "malformed URI port",
            UriError::BadParams => "malformed URI parameters",
            UriError::BadHeaders => "malformed URI headers",
            UriError::BadEscape => "malformed %-escape in URI",
            UriError::IllegalChar => "illegal character in URI",
            UriError::TooLong => "URI longer than 65535 bytes",
        })
    }
}

impl core::error::Error for UriError {}

// ---------------------------------------------------------------------------------------------
// Character classes (RFC 3261 §25.1), one table lookup per byte.

/// `unreserved = alphanum / mark`.
const UNRES: u16 = 1 << 0;
/// `user`: unreserved / user-unreserved (`& = + $ , ; ? /`); escapes are handled apart.
const USER: u16 = 1 << 1;
/// `password`: unreserved / `& = + $ ,`.
const PASS: u16 = 1 << 2;
/// `paramchar`: unreserved / param-unreserved (`[ ] / : & + $`).
const PARAM: u16 = 1 << 3;
/// `hname` / `hvalue`: unreserved / hnv-unreserved (`[ ] / ? : + $`).
const HNV: u16 = 1 << 4;
/// `reserved = ; / ? : @ & = + $ ,`.
const RESERVED: u16 = 1 << 5;
/// `uric` (reserved / unreserved) plus `[` `]` (RFC 2732); `%` is handled apart.
const URIC: u16 = 1 << 6;
/// Hostname characters: alphanum / `-` / `.`.
const HOST: u16 = 1 << 7;
/// Scheme characters after the first: alphanum / `+` / `-` / `.`.
const SCHEME: u16 = 1 << 8;
/// Anything that may appear in `userinfo` before the `@`: user / password / `:` / `%`.
const USERINFO: u16 = 1 << 9;
/// A `tel` number (RFC 3966): HEXDIG / `*` / `#` / `+` / visual separators `- . ( )`.
const TELNUM: u16 = 1 << 10;
/// Inside an `IPv6reference`: HEXDIG / `:` / `.`.
const IPV6: u16 = 1 << 11;
/// Inside a hostname label: alphanum / `-`.
const LDH: u16 = 1 << 12;
/// In an `IPv4address`: DIGIT / `.`.
const IPV4: u16 = 1 << 13;

/// The classes of bytes `0..N`.
const fn class_table<const N: usize>() -> [u16; N] {
    let mut t = [0u16; N];
    let mut c = 0usize;
    while c < N {
        let b = c as u8;
        let mut f = 0u16;
        let alnum = b.is_ascii_alphanumeric();
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        if alnum || mark {
            f |= UNRES | USER | PASS | PARAM | HNV | URIC | USERINFO;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            f |= USER | USERINFO;
        }
        if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            f |= PASS;
        }
        if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            f |= PARAM;
        }
        if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            f |= HNV;
        }
        if matches!(
            b,
            b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
        ) {
            f |= RESERVED | URIC;
        }
        if matches!(b, b'[' | b']') {
            f |= URIC;
        }
        if matches!(b, b':' | b'%') {
            f |= USERINFO;
        }
        if alnum || matches!(b, b'-' | b'.') {
            f |= HOST;
        }
        if alnum || b == b'-' {
            f |= LDH;
        }
        if alnum || matches!(b, b'+' | b'-' | b'.') {
            f |= SCHEME;
        }
        if b.is_ascii_hexdigit() || matches!(b, b'*' | b'#' | b'+' | b'-' | b'.' | b'(' | b')') {
            f |= TELNUM;
        }
        if b.is_ascii_hexdigit() || matches!(b, b':' | b'.') {
            f |= IPV6;
        }
        if b.is_ascii_digit() || b == b'.' {
            f |= IPV4;
        }
        t[c] = f;
        c += 1;
    }
    t
}

/// Every byte's classes.
#[cfg(not(feature = "small-code"))]
static CLASS: [u16; 256] = class_table();
/// `small-code`: the ASCII bytes' classes only (256 bytes of flash less); a byte past the
/// table (not ASCII) is in no class, as in the full table.
#[cfg(feature = "small-code")]
static CLASS: [u16; 128] = class_table();

#[inline(always)]
fn has(b: u8, mask: u16) -> bool {
    // With the full table the index is always in range and the check folds away.
    CLASS.get(usize::from(b)).is_some_and(|c| c & mask != 0)
}

/// The error for an unexpected byte: [`UriError::IllegalChar`] if the byte can never appear
/// in a URI, `err` (the component being parsed) otherwise.
#[inline]
fn unexpected(b: u8, err: UriError) -> UriError {
    if b == b'%' || has(b, URIC) {
        err
    } else {
        UriError::IllegalChar
    }
}

/// The error for a component that stopped at `i`: see [`unexpected`]; `err` at the end.
#[inline]
fn stop_err(s: &[u8], i: usize, err: UriError) -> UriError {
    match s.get(i) {
        Some(&b) => unexpected(b, err),
        None => err,
    }
}

/// The end of the run of `mask` bytes from `i` (no escapes).
#[inline]
fn scan(s: &[u8], mut i: usize, mask: u16) -> usize {
    while let Some(&b) = s.get(i) {
        if !has(b, mask) {
            break;
        }
        i += 1;
    }
    i
}

/// The end of the run of `mask` bytes and `escaped` (RFC 3261 §25.1 `"%" HEXDIG HEXDIG`) from
/// `i`; a `%` not followed by two hex digits is [`UriError::BadEscape`].
#[inline]
fn run(s: &[u8], mut i: usize, mask: u16) -> Result<usize, UriError> {
    while let Some(&b) = s.get(i) {
        if has(b, mask) {
            i += 1;
        } else if b == b'%' {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(&h), Some(&l)) if hex_pair(h, l).is_some() => i += 3,
                _ => return Err(UriError::BadEscape),
            }
        } else {
            break;
        }
    }
    Ok(i)
}

/// A byte range of the input.
type Span = (usize, usize);

/// A host before the input is known to be UTF-8.
#[derive(Clone, Copy, Debug, PartialEq)]
enum RawHost {
    Name(Span),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// The parts found by the scheme-specific parsers, as byte ranges.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Parts {
    user: Option<Span>,
    password: Option<Span>,
    host: Option<RawHost>,
    port: Option<u16>,
    params: Span,
    headers: Option<Span>,
}

/// RFC 3261 §25.1 `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each part
/// at most 255. Leading zeros are allowed by the grammar (and read as decimal).
fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    // One pass: the octets read so far (in a register: octets stored one byte at a time
    // and read back as one word would stall the load), the octet being read, its value and
    // its number of digits.
    let (mut addr, mut n, mut value, mut digits) = (0u32, 0u8, 0u16, 0u8);
    for &b in s {
        if b == b'.' {
            if digits == 0 || n == 3 {
                return None;
            }
            addr = addr << 8 | u32::from(u8::try_from(value).ok()?);
            (n, value, digits) = (n + 1, 0, 0);
        } else if b.is_ascii_digit() && digits < 3 {
            value = value * 10 + u16::from(b - b'0');
            digits += 1;
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    Some(Ipv4Addr::from(
        addr << 8 | u32::from(u8::try_from(value).ok()?),
    ))
}

/// RFC 3261 §25.1 `host = hostname / IPv4address / IPv6reference`, from `i`. Returns the host
/// and the index after it.
fn parse_host(s: &[u8], i: usize) -> Result<(RawHost, usize), UriError> {
    if s.get(i) == Some(&b'[') {
        // IPv6reference = "[" IPv6address "]"
        let a = i + 1;
        let e = scan(s, a, IPV6);
        if s.get(e) != Some(&b']') {
            return Err(stop_err(s, e, UriError::BadHost));
        }
        let addr = s
            .get(a..e)
            .and_then(super::ip::parse_ipv6)
            .ok_or(UriError::BadHost)?;
        return Ok((RawHost::V6(addr), e + 1));
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]
    // domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
    // toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum
    // Label by label: a tight loop over the inside of each, the rules checked at its ends.
    let start = i;
    let mut j = i;
    let mut top_first = 0u8;
    loop {
        // (0 at the end of the input: not alphanumeric either.)
        let first = s.get(j).copied().unwrap_or(0);
        if !first.is_ascii_alphanumeric() {
            if j == start {
                return Err(stop_err(s, j, UriError::BadHost));
            }
            // After a dot: `..` or `.-` is an empty label or one starting with `-`.
            if matches!(first, b'.' | b'-') {
                return Err(UriError::BadHost);
            }
            break;
        }
        top_first = first;
        j = scan(s, j + 1, LDH);
        // A label cannot end with `-`.
        if s.get(j - 1) == Some(&b'-') {
            return Err(UriError::BadHost);
        }
        if s.get(j) != Some(&b'.') {
            break;
        }
        j += 1;
    }
    let text = s.get(start..j).unwrap_or_default();
    if top_first.is_ascii_digit() {
        // Only a toplabel may not start with a digit, so this can only be an IPv4address
        // (which `parse_ipv4` checks is all digits and dots).
        let a = parse_ipv4(text).ok_or(UriError::BadHost)?;
        return Ok((RawHost::V4(a), j));
    }
    Ok((RawHost::Name((start, j)), j))
}

/// RFC 3261 §19.1.1 `uri-parameters = *( ";" uri-parameter )`, `other-param = pname [ "="
/// pvalue ]`, both `1*paramchar` (the named parameters are all of that shape). Returns the end.
fn parse_params(s: &[u8], mut i: usize) -> Result<usize, UriError> {
    while s.get(i) == Some(&b';') {
        let a = i + 1;
        let e = run(s, a, PARAM)?;
        if e == a {
            return Err(stop_err(s, e, UriError::BadParams));
        }
        i = e;
        if s.get(i) == Some(&b'=') {
            let a = i + 1;
            let e = run(s, a, PARAM)?;
            if e == a {
                // `;x=`: pvalue is 1*paramchar.
                return Err(stop_err(s, e, UriError::BadParams));
            }
            i = e;
        }
        match s.get(i) {
            None | Some(b';') | Some(b'?') => {}
            Some(&b) => return Err(unexpected(b, UriError::BadParams)),
        }
    }
    Ok(i)
}

/// `SIP-URI` / `SIPS-URI` after the scheme's colon (RFC 3261 §25.1):
/// `[ userinfo ] hostport uri-parameters [ headers ]`.
///
/// The userinfo ends at the only `@` a SIP URI may hold (no other component may hold a
/// literal one, §25.1). Most URIs a proxy reads (Route, Record-Route) have none, which a
/// word-at-a-time search tells quickly; then the host starts right after the scheme.
fn parse_sip(s: &[u8], start: usize) -> Result<Parts, UriError> {
    // The shortcut is for speed (the same answer): `small-code` leaves it out.
    if !cfg!(feature = "small-code") && find_byte(s, start, b'@').is_none() {
        let (host, e) = parse_host(s, start)?;
        return parse_after_host(s, e, None, None, host);
    }
    parse_sip_full(s, start)
}

/// [`parse_sip`] without the shortcut for URIs without `@`: the userinfo is looked for
/// first.
fn parse_sip_full(s: &[u8], start: usize) -> Result<Parts, UriError> {
    let mut i = start;
    // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@". The user may hold ';'
    // and '?' (RFC 4475 semiuri), so the '@' is looked for before deciding where the host
    // and parameters start: it is the byte ending the run of userinfo characters. No other
    // component may hold a literal '@' (§25.1), so there is at most one.
    let mut colon = None;
    let mut j = i;
    while let Some(&b) = s.get(j) {
        if !has(b, USERINFO) {
            break;
        }
        if b == b':' && colon.is_none() {
            colon = Some(j);
        }
        j += 1;
    }
    let (mut user, mut password) = (None, None);
    if s.get(j) == Some(&b'@') {
        let user_end = colon.unwrap_or(j);
        // user = 1*( unreserved / escaped / user-unreserved )
        let e = run(s, i, USER)?;
        if e == i || e != user_end {
            return Err(UriError::BadUserinfo);
        }
        user = Some((i, e));
        if let Some(c) = colon {
            // password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
            let e = run(s, c + 1, PASS)?;
            if e != j {
                return Err(UriError::BadUserinfo);
            }
            password = Some((c + 1, j));
        }
        i = j + 1;
    }
    let (host, e) = parse_host(s, i)?;
    parse_after_host(s, e, user, password, host)
}

/// The rest of a SIP URI after its host, which ends at `i`: `[ ":" port ] uri-parameters
/// [ headers ]`, to the end of `s`.
#[inline]
fn parse_after_host(
    s: &[u8],
    mut i: usize,
    user: Option<Span>,
    password: Option<Span>,
    host: RawHost,
) -> Result<Parts, UriError> {
    // hostport = host [ ":" port ]
    let mut port = None;
    if s.get(i) == Some(&b':') {
        // port = 1*DIGIT (at most 65535 to be a port at all)
        let a = i + 1;
        let mut e = a;
        while s.get(e).is_some_and(u8::is_ascii_digit) {
            e += 1;
        }
        let n = s
            .get(a..e)
            .and_then(|d| parse_u64(d, u64::from(u16::MAX)))
            .and_then(|n| u16::try_from(n).ok());
        match (n, s.get(e)) {
            (Some(n), None | Some(b';') | Some(b'?')) => port = Some(n),
            (_, Some(&b)) => return Err(unexpected(b, UriError::BadPort)),
            (None, None) => return Err(UriError::BadPort),
        }
        i = e;
    } else {
        match s.get(i) {
            None | Some(b';') | Some(b'?') => {}
            Some(&b) => return Err(unexpected(b, UriError::BadHost)),
        }
    }
    let pstart = i;
    i = parse_params(s, i)?;
    let params = (pstart, i);
    // headers = "?" header *( "&" header ); header = hname "=" hvalue
    let mut headers = None;
    if s.get(i) == Some(&b'?') {
        let hstart = i + 1;
        i = hstart;
        loop {
            let e = run(s, i, HNV)?;
            if e == i {
                return Err(stop_err(s, e, UriError::BadHeaders));
            }
            if s.get(e) != Some(&b'=') {
                return Err(stop_err(s, e, UriError::BadHeaders));
            }
            i = run(s, e + 1, HNV)?;
            match s.get(i) {
                None => break,
                Some(b'&') => i += 1,
                Some(&b) => return Err(unexpected(b, UriError::BadHeaders)),
            }
        }
        headers = Some((hstart, i));
    }
    if i != s.len() {
        return Err(stop_err(s, i, UriError::BadHeaders));
    }
    Ok(Parts {
        user,
        password,
        host: Some(host),
        port,
        params,
        headers,
    })
}

#[cfg(feature = "tel")]
/// `tel:` (RFC 3966 §3), checked loosely: a number of digits, hex digits, `*`, `#` and visual
/// separators (`+` only first), then `;name[=value]` parameters of `paramchar`s.
fn parse_tel(s: &[u8], start: usize) -> Result<Parts, UriError> {
    let e = scan(s, start, TELNUM);
    let number = s.get(start..e).unwrap_or_default();
    if number.is_empty() || number.iter().skip(1).any(|&b| b == b'+') {
        return Err(stop_err(s, e, UriError::BadUserinfo));
    }
    match s.get(e) {
        None | Some(b';') => {}
        Some(&b) => return Err(unexpected(b, UriError::BadUserinfo)),
    }
    let end = parse_params(s, e)?;
    if end != s.len() {
        return Err(stop_err(s, end, UriError::BadParams));
    }
    Ok(Parts {
        user: None,
        password: None,
        host: None,
        port: None,
        params: (e, end),
        headers: None,
    })
}

/// Any other `absoluteURI` (RFC 3261 §25.1): `uric` characters (plus `[` `]`, RFC 2732) and
/// valid escapes, kept opaque.
fn parse_other(s: &[u8], start: usize) -> Result<Parts, UriError> {
    let e = run(s, start, URIC)?;
    if e != s.len() {
        return Err(UriError::IllegalChar);
    }
    Ok(Parts {
        user: None,
        password: None,
        host: None,
        port: None,
        params: (e, e),
        headers: None,
    })
}

// ---------------------------------------------------------------------------------------------

/// A part of the URI text, as offsets (a URI is at most `u16::MAX` bytes long). Every part
/// starts after `scheme:`, so `start == 0` marks an absent optional part.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Part {
    start: u16,
    end: u16,
}

impl Part {
    /// An absent optional part.
    const NONE: Part = Part { start: 0, end: 0 };

    /// The part for a span of a URI whose length was checked to fit `u16`.
    fn new((a, b): Span) -> Part {
        Part {
            start: u16::try_from(a).unwrap_or(0),
            end: u16::try_from(b).unwrap_or(0),
        }
    }

    /// [`Part::new`], or [`Part::NONE`].
    fn opt(span: Option<Span>) -> Part {
        span.map_or(Part::NONE, Part::new)
    }
}

/// The host of a [`Uri`], without borrowing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostPart {
    None,
    Name(Part),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

/// A parsed URI: a SIP or SIPS URI split into its parts (RFC 3261 §19.1.1), a `tel` URI
/// (RFC 3966), or any other absolute URI kept opaque. All parts borrow the parsed text.
///
/// The parts are kept as offsets into the text, found once by [`Uri::parse`], which keeps
/// the value small (64 bytes on 64-bit targets) and cheap to move.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Uri<'b> {
    raw: &'b str,
    user: Part,
    password: Part,
    params: Part,
    headers: Part,
    host: HostPart,
    port: Option<u16>,
    scheme_len: u16,
    scheme: Scheme,
}

impl fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uri")
            .field("raw", &self.raw)
            .field("scheme", &self.scheme)
            .field("user", &self.user())
            .field("password", &self.password())
            .field("host", &self.host())
            .field("port", &self.port)
            .field("params", &self.part(self.params))
            .field("headers", &self.headers())
            .finish()
    }
}

impl<'b> Uri<'b> {
    /// Parses a whole URI: `s` must be exactly the URI, without surrounding white space or
    /// angle brackets. Never panics; bad input is a [`UriError`].
    pub fn parse(s: &'b [u8]) -> Result<Uri<'b>, UriError> {
        if s.len() > usize::from(u16::MAX) {
            return Err(UriError::TooLong);
        }
        // The one-pass shortcut for the common shape is for speed; it gives the same answer
        // as the general parser, so `small-code` (firmware) leaves it out.
        if !cfg!(feature = "small-code") {
            if let Some(u) = Uri::parse_common(s) {
                return Ok(u);
            }
        }
        Uri::parse_general(s)
    }

    /// The common shape of a SIP or SIPS URI, in one pass with no backtracking:
    /// `sip:` / `sips:` (any case), an optional `user@` without escapes or password, a
    /// hostname or IPv4 address, an optional port, and `;name[=value]` parameters without
    /// escapes; no `headers`. `None` for anything else, which [`Uri::parse_general`] then
    /// parses (or rejects) with the full grammar.
    ///
    /// Whenever this returns a URI, [`Uri::parse_general`] returns the same one (the test
    /// `common_shape_agrees_with_the_general_parser` checks it): every byte this accepts is
    /// accepted by the general parser in the same role, and every point where the general
    /// parser could decide differently (a `:` or `%` in the userinfo, a `?`, an escape, a
    /// trailing dot, an IPv6 reference) makes this give up.
    #[inline]
    fn parse_common(s: &'b [u8]) -> Option<Uri<'b>> {
        // `sip:` or `sips:`, letters in either case (the colon exactly).
        const SIP: u32 = u32::from_le_bytes(*b"sip:");
        const SIPS: u32 = u32::from_le_bytes(*b"sips");
        const FOLD: u32 = 0x0020_2020;
        let head = u32::from_le_bytes(*s.first_chunk::<4>()?);
        let (scheme, body) = if head | FOLD == SIP {
            (Scheme::Sip, 4)
        } else if head | FOLD | 0x2000_0000 == SIPS && s.get(4) == Some(&b':') {
            (Scheme::Sips, 5)
        } else {
            return None;
        };
        // [ user "@" ]: a run of user characters ending at `@`. A run ending at `:` (a
        // password) or `%` (an escape) is left to the general parser; a run ending anywhere
        // else is no userinfo (the general parser's userinfo run, a superset, stops there
        // too), and the host starts at the beginning. With no `@` at all there is no
        // userinfo for either parser, so the run is not scanned (one vector search instead
        // of a byte loop over the host); a `:` or `%` is then read by the host and port
        // rules below, or makes them give up.
        let mut i = body;
        let mut user = Part::NONE;
        if lex::find_byte(s, i, b'@').is_some() {
            let j = scan(s, i, USER);
            match s.get(j) {
                Some(b'@') if j > i => {
                    user = Part::new((i, j));
                    i = j + 1;
                }
                Some(b'@' | b':' | b'%') => return None,
                _ => {}
            }
        }
        // host: hostname (labels of alphanumerics and inner `-`, separated by single dots,
        // the top label not starting with a digit) or IPv4address (all labels digits).
        let host_start = i;
        let mut j = i;
        let mut top_first;
        if s.get(j).is_some_and(u8::is_ascii_digit) {
            // Digits and dots only: an IPv4address, or (followed by another label
            // character) something the general parser is to judge.
            let e = scan(s, j, IPV4);
            if s.get(e).is_some_and(|&b| has(b, LDH)) {
                return None;
            }
            let host = HostPart::V4(parse_ipv4(s.get(j..e)?)?);
            return Uri::parse_common_rest(s, scheme, body, user, host, e);
        }
        loop {
            top_first = *s.get(j)?;
            if !top_first.is_ascii_alphanumeric() {
                return None;
            }
            j = scan(s, j + 1, LDH);
            if s.get(j - 1) == Some(&b'-') {
                return None;
            }
            if s.get(j) != Some(&b'.') {
                break;
            }
            j += 1;
        }
        let host = if top_first.is_ascii_digit() {
            HostPart::V4(parse_ipv4(s.get(host_start..j)?)?)
        } else {
            HostPart::Name(Part::new((host_start, j)))
        };
        Uri::parse_common_rest(s, scheme, body, user, host, j)
    }

    /// [`Uri::parse_common`] after the host, which ends at `i`.
    #[cfg_attr(not(feature = "small-code"), inline(always))]
    fn parse_common_rest(
        s: &'b [u8],
        scheme: Scheme,
        body: usize,
        user: Part,
        host: HostPart,
        mut i: usize,
    ) -> Option<Uri<'b>> {
        // [ ":" port ], one to five digits, at most 65535.
        let mut port = None;
        if s.get(i) == Some(&b':') {
            let a = i + 1;
            let mut e = a;
            let mut n = 0u32;
            while let Some(d) = s
                .get(e)
                .and_then(|&b| b.checked_sub(b'0'))
                .filter(|&d| d < 10)
            {
                n = n * 10 + u32::from(d);
                e += 1;
                if e - a > 5 {
                    return None;
                }
            }
            if e == a {
                return None;
            }
            port = Some(u16::try_from(n).ok()?);
            i = e;
        }
        // *( ";" pname [ "=" pvalue ] ), both 1*paramchar without escapes, to the end.
        let params_start = i;
        while s.get(i) == Some(&b';') {
            let e = scan(s, i + 1, PARAM);
            if e == i + 1 {
                return None;
            }
            i = e;
            if s.get(i) == Some(&b'=') {
                let e = scan(s, i + 1, PARAM);
                if e == i + 1 {
                    return None;
                }
                i = e;
            }
        }
        if i != s.len() {
            return None;
        }
        Some(Uri {
            raw: lex::ascii(s)?,
            user,
            password: Part::NONE,
            params: Part::new((params_start, i)),
            headers: Part::NONE,
            host,
            port,
            scheme_len: u16::try_from(body - 1).ok()?,
            scheme,
        })
    }

    /// [`Uri::parse`] with the whole grammar, for any scheme.
    fn parse_general(s: &'b [u8]) -> Result<Uri<'b>, UriError> {
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )   (RFC 3261 §25.1)
        let first = *s.first().ok_or(UriError::Empty)?;
        if !first.is_ascii_alphabetic() {
            return Err(unexpected(first, UriError::BadScheme));
        }
        let colon = scan(s, 1, SCHEME);
        if s.get(colon) != Some(&b':') {
            return Err(stop_err(s, colon, UriError::BadScheme));
        }
        let name = s.get(..colon).unwrap_or_default();
        // Schemes compare case-insensitively (RFC 3261 §19.1.4, RFC 3986 §3.1).
        let scheme = if name.eq_ignore_ascii_case(b"sip") {
            Scheme::Sip
        } else if name.eq_ignore_ascii_case(b"sips") {
            Scheme::Sips
        } else if name.eq_ignore_ascii_case(b"tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        let body = colon + 1;
        if body >= s.len() {
            return Err(UriError::Empty);
        }
        let parts = match scheme {
            Scheme::Sip | Scheme::Sips => parse_sip(s, body)?,
            #[cfg(feature = "tel")]
            Scheme::Tel => parse_tel(s, body)?,
            #[cfg(feature = "tel")]
            Scheme::Other => parse_other(s, body)?,
            // Without feature `tel` a `tel` URI is an opaque `absoluteURI` like any other.
            #[cfg(not(feature = "tel"))]
            Scheme::Tel | Scheme::Other => parse_other(s, body)?,
        };
        // Every byte accepted above is ASCII, so this cannot fail; it is still checked.
        let raw = lex::ascii(s).ok_or(UriError::IllegalChar)?;
        Ok(Uri {
            raw,
            user: Part::opt(parts.user),
            password: Part::opt(parts.password),
            params: Part::new(parts.params),
            headers: Part::opt(parts.headers),
            host: match parts.host {
                None => HostPart::None,
                Some(RawHost::Name(span)) => HostPart::Name(Part::new(span)),
                Some(RawHost::V4(a)) => HostPart::V4(a),
                Some(RawHost::V6(a)) => HostPart::V6(a),
            },
            port: parts.port,
            scheme_len: u16::try_from(colon).unwrap_or(0),
            scheme,
        })
    }

    /// The text of a part.
    #[inline]
    fn part(&self, p: Part) -> &'b str {
        self.raw
            .get(usize::from(p.start)..usize::from(p.end))
            .unwrap_or_default()
    }

    /// The text of an optional part.
    #[inline]
    fn opt_part(&self, p: Part) -> Option<&'b str> {
        (p.start != 0).then(|| self.part(p))
    }

    /// The text as parsed.
    pub fn raw(&self) -> &'b str {
        self.raw
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The scheme as written, e.g. `"SIP"` or `"soap.beep"`.
    pub fn scheme_str(&self) -> &'b str {
        self.raw
            .get(..usize::from(self.scheme_len))
            .unwrap_or_default()
    }

    /// The user part of a SIP/SIPS URI, still `%`-escaped, as written; `None` without
    /// userinfo, and for other schemes (a `tel` number is in [`Uri::opaque`]).
    pub fn user(&self) -> Option<&'b str> {
        self.opt_part(self.user)
    }

    /// The password of a SIP/SIPS URI (`Some("")` for `user:@host`), still escaped.
    pub fn password(&self) -> Option<&'b str> {
        self.opt_part(self.password)
    }

    /// The host: `Some` for SIP/SIPS URIs, `None` for `tel` and other schemes.
    pub fn host(&self) -> Option<Host<'b>> {
        match self.host {
            HostPart::None => None,
            HostPart::Name(p) => Some(Host::Name(self.part(p))),
            HostPart::V4(a) => Some(Host::Ipv4(a)),
            HostPart::V6(a) => Some(Host::Ipv6(a)),
        }
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The `uri-parameters` (for `tel`, the number's parameters), raw from the first `;`;
    /// empty if there are none.
    pub fn params(&self) -> Params<'b> {
        Params::new(self.part(self.params).as_bytes())
    }

    /// Iterates the parameters as `(name, value)`, both as written. The text was validated by
    /// [`Uri::parse`], so splitting at `;` and the first `=` is exact.
    fn param_iter(&self) -> impl Iterator<Item = (&'b str, Option<&'b str>)> {
        let params: &'b str = self.part(self.params);
        lex::split_byte(params, b';')
            .skip(1)
            .map(|p| match lex::split_once_byte(p, b'=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            })
    }

    /// The value of the first parameter whose name matches (case-insensitively, after
    /// `%HH` decoding); `Some(None)` for a parameter without a value.
    fn find_param(&self, name: &str) -> Option<Option<&'b str>> {
        self.param_iter()
            .find(|(n, _)| name_eq(n, name))
            .map(|(_, v)| v)
    }

    /// The first parameter called `name`: `Some(None)` when present without a value, `None`
    /// when absent. Like `self.params().get(name)`, except that names written with escapes
    /// match too (RFC 4475 esc01's `;%6C%72` is `lr`).
    pub fn param(&self, name: &str) -> Option<Option<&'b [u8]>> {
        self.find_param(name).map(|v| v.map(str::as_bytes))
    }

    /// The `headers` component, after the `?` (without it), as written.
    pub fn headers(&self) -> Option<&'b str> {
        self.opt_part(self.headers)
    }

    /// Everything after `scheme:` (for `tel`, the number and its parameters; for other
    /// schemes, the whole rest).
    pub fn opaque(&self) -> &'b str {
        self.raw
            .get(usize::from(self.scheme_len) + 1..)
            .unwrap_or_default()
    }

    /// Whether the scheme is `sip` or `sips`.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }

    /// The `transport` parameter's value (RFC 3261 §19.1.1), as written.
    pub fn transport(&self) -> Option<&'b str> {
        self.find_param("transport").flatten()
    }

    /// The `maddr` parameter's value (RFC 3261 §19.1.1), as written.
    pub fn maddr(&self) -> Option<&'b str> {
        self.find_param("maddr").flatten()
    }

    /// Whether the `lr` parameter is present (RFC 3261 §19.1.1; a value such as `lr=on` is
    /// tolerated).
    pub fn lr(&self) -> bool {
        self.find_param("lr").is_some()
    }

    /// The `user` parameter's value (`phone`, `ip`, ...), as written.
    pub fn user_param(&self) -> Option<&'b str> {
        self.find_param("user").flatten()
    }

    /// The `method` parameter's value, as written.
    pub fn method_param(&self) -> Option<&'b str> {
        self.find_param("method").flatten()
    }

    /// The `ttl` parameter (RFC 3261 §25.1 `ttl = 1*3DIGIT ; 0 to 255`); `None` if absent or
    /// not a number in range.
    pub fn ttl(&self) -> Option<u8> {
        let v = self.find_param("ttl").flatten()?;
        if v.len() > 3 {
            return None;
        }
        u8::try_from(parse_u64(v.as_bytes(), 255)?).ok()
    }

    /// Whether two URIs are equivalent per RFC 3261 §19.1.4 (SIP and SIPS URIs).
    ///
    /// Escapes: a `%HH` equals the character it encodes unless that character is `reserved`
    /// (§19.1.4, RFC 2396), so `%61lice` is `alice` but `a%3Bb` is not `a;b`. `tel` URIs are
    /// compared per RFC 3966 §4 (visual separators ignored, parameters as a set); other
    /// schemes by scheme (case-insensitively) and the rest of the text after escape
    /// normalization. URIs of different schemes are never equivalent.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self.scheme, other.scheme) {
            // RFC 3261 §19.1.4: a SIP and a SIPS URI are never equivalent.
            (Scheme::Sip, Scheme::Sip) | (Scheme::Sips, Scheme::Sips) => self.sip_equivalent(other),
            #[cfg(feature = "tel")]
            (Scheme::Tel, Scheme::Tel) => self.tel_equivalent(other),
            #[cfg(not(feature = "tel"))]
            (Scheme::Tel, Scheme::Tel) | (Scheme::Other, Scheme::Other) => {
                self.scheme_str().eq_ignore_ascii_case(other.scheme_str())
                    && norm_eq(self.opaque(), other.opaque(), false)
            }
            #[cfg(feature = "tel")]
            (Scheme::Other, Scheme::Other) => {
                self.scheme_str().eq_ignore_ascii_case(other.scheme_str())
                    && norm_eq(self.opaque(), other.opaque(), false)
            }
            _ => false,
        }
    }

    /// RFC 3261 §19.1.4 for two SIP (or two SIPS) URIs.
    fn sip_equivalent(&self, other: &Uri<'_>) -> bool {
        // Userinfo is compared case-sensitively; a URI omitting the user (or password) does
        // not match one including it.
        let opt_eq = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => norm_eq(a, b, false),
            _ => false,
        };
        if !opt_eq(self.user(), other.user()) || !opt_eq(self.password(), other.password()) {
            return false;
        }
        // Host case-insensitive; an address never matches a name.
        match (&self.host(), &other.host()) {
            (Some(a), Some(b)) if a.eq_host(b) => {}
            (None, None) => {}
            _ => return false,
        }
        // A URI omitting the port does not match one with the default port.
        if self.port != other.port {
            return false;
        }
        self.params_match(other, true) && headers_match(self.headers(), other.headers())
    }

    /// Compares uri-parameters. `sip` (RFC 3261 §19.1.4): any parameter in both must match;
    /// `user`, `ttl`, `method`, `maddr` and `transport` in only one never match; other
    /// parameters in only one are ignored. Otherwise (RFC 3966 §4): a parameter in only one
    /// never matches. Values compare case-insensitively. With repeated names, the first
    /// occurrence counts (as for [`Uri::param`]), which keeps the relation reflexive.
    fn params_match(&self, other: &Uri<'_>, sip: bool) -> bool {
        /// RFC 3261 §19.1.4: present in only one URI, these parameters never match.
        const MUST_MATCH: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];
        let one_sided = |name: &str| !sip || MUST_MATCH.iter().any(|m| name_eq(name, m));
        for (name, _) in self.param_iter() {
            let a = self.find_param(name).flatten();
            match other.find_param(name) {
                Some(b) => {
                    let same = match (a, b) {
                        (None, None) => true,
                        (Some(a), Some(b)) => norm_eq(a, b, true),
                        _ => false,
                    };
                    if !same {
                        return false;
                    }
                }
                None if one_sided(name) => return false,
                None => {}
            }
        }
        // Parameters only in `other`: only the one-sided rule is left to check.
        for (name, _) in other.param_iter() {
            if self.find_param(name).is_none() && one_sided(name) {
                return false;
            }
        }
        true
    }

    #[cfg(feature = "tel")]
    /// RFC 3966 §4: numbers compare without visual separators, case-insensitively; all
    /// parameters must appear in both, in any order, with equal values.
    fn tel_equivalent(&self, other: &Uri<'_>) -> bool {
        fn number<'a>(u: &Uri<'a>) -> impl Iterator<Item = u8> + 'a {
            let o = u.opaque().as_bytes();
            let n = o.iter().position(|&b| b == b';').unwrap_or(o.len());
            o.get(..n)
                .unwrap_or_default()
                .iter()
                .filter(|&&b| !matches!(b, b'-' | b'.' | b'(' | b')'))
                .map(u8::to_ascii_lowercase)
        }
        number(self).eq(number(other)) && self.params_match(other, false)
    }

    /// The default port for this URI when none is written: 5061 for `sips` or
    /// `transport=tls`, 5060 otherwise (RFC 3261 §19.1.2, RFC 3263 §4.2). An explicit port
    /// wins.
    pub fn port_or_default(&self) -> u16 {
        if let Some(p) = self.port {
            return p;
        }
        let tls = self
            .transport()
            .is_some_and(|t| t.eq_ignore_ascii_case("tls"));
        if self.scheme == Scheme::Sips || tls {
            5061
        } else {
            5060
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

// ---------------------------------------------------------------------------------------------
// Escape-aware comparison (RFC 3261 §19.1.4), lazily, without a buffer.

/// Decodes a validated component into comparison units: a literal byte, or the byte a `%HH`
/// encodes. An escaped `reserved` character stays distinct from the literal one (bit 8 set),
/// since only "characters other than those in the reserved set" are equivalent to their
/// encoding (§19.1.4).
struct Units<'a> {
    s: &'a [u8],
    i: usize,
}

impl Iterator for Units<'_> {
    type Item = u16;

    #[inline]
    fn next(&mut self) -> Option<u16> {
        let b = *self.s.get(self.i)?;
        if b == b'%' {
            if let (Some(&h), Some(&l)) = (self.s.get(self.i + 1), self.s.get(self.i + 2)) {
                if let Some(v) = hex_pair(h, l) {
                    self.i += 3;
                    let tag = if has(v, RESERVED) { 0x100 } else { 0 };
                    return Some(u16::from(v) | tag);
                }
            }
        }
        self.i += 1;
        Some(u16::from(b))
    }
}

/// Whether two components are equal after `%HH` decoding, ASCII case-insensitively if `ci`.
fn norm_eq(a: &str, b: &str, ci: bool) -> bool {
    if a == b {
        return true;
    }
    let fold = |u: u16| match u8::try_from(u) {
        Ok(c) if ci => u16::from(c.to_ascii_lowercase()),
        _ => u,
    };
    Units {
        s: a.as_bytes(),
        i: 0,
    }
    .map(fold)
    .eq(Units {
        s: b.as_bytes(),
        i: 0,
    }
    .map(fold))
}

/// Parameter (or header) name match: case-insensitive, after `%HH` decoding.
///
/// Names without escapes compare with `eq_ignore_ascii_case` first, for speed (the same
/// answer as [`norm_eq`]): `small-code` leaves the shortcut out.
#[inline]
fn name_eq(a: &str, b: &str) -> bool {
    if !cfg!(feature = "small-code")
        && find_byte(a.as_bytes(), 0, b'%').is_none()
        && find_byte(b.as_bytes(), 0, b'%').is_none()
    {
        a.eq_ignore_ascii_case(b)
    } else {
        norm_eq(a, b, true)
    }
}

/// RFC 3261 §19.1.4: every header component must be present in both URIs and match, in any
/// order. Names compare case-insensitively, values exactly (both after escape decoding),
/// as multisets: each header occurs as often in one as in the other.
fn headers_match(a: Option<&str>, b: Option<&str>) -> bool {
    fn split(h: &str) -> impl Iterator<Item = (&str, &str)> {
        lex::split_byte(h, b'&').map(|x| lex::split_once_byte(x, b'=').unwrap_or((x, "")))
    }
    fn same((n1, v1): (&str, &str), (n2, v2): (&str, &str)) -> bool {
        name_eq(n1, n2) && norm_eq(v1, v2, false)
    }
    fn count(list: &str, h: (&str, &str)) -> usize {
        split(list).filter(|&x| same(x, h)).count()
    }
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => true,
        (Some(a), Some(b)) => {
            split(a).all(|h| count(a, h) == count(b, h))
                && split(b).all(|h| count(a, h) == count(b, h))
        }
        _ => false,
    }
}

/// Copies `s` into `out` with `%HH` escapes decoded (RFC 3261 §25.1 `escaped`); `None` if
/// `out` is too small or an escape is bad. Decoding is not recursive: `%2541` gives `%41`.
pub fn unescape<'o>(s: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut n = 0;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let c = if b == b'%' {
            let v = hex_pair(*s.get(i + 1)?, *s.get(i + 2)?)?;
            i += 3;
            v
        } else {
            i += 1;
            b
        };
        *out.get_mut(n)? = c;
        n += 1;
    }
    out.get(..n)
}

/// `hostport = host [ ":" port ]` at a header cursor (Via sent-by, §20.42). Advances past it.
/// Inlined into its one caller, so that the host and port stay in registers.
#[cfg_attr(not(feature = "small-code"), inline(always))]
pub(crate) fn parse_host_port<'b>(
    c: &mut super::lex::Cursor<'b>,
) -> Option<(Host<'b>, Option<u16>)> {
    let s = c.buf();
    let start = c.pos();
    let (raw, end) = parse_host(s, start).ok()?;
    let host = match raw {
        RawHost::Name((a, b)) => Host::Name(lex::ascii(s.get(a..b)?)?),
        RawHost::V4(a) => Host::Ipv4(a),
        RawHost::V6(a) => Host::Ipv6(a),
    };
    c.advance(end - start);
    let mut port = None;
    if c.eat_sep(b':') {
        port = Some(u16::try_from(c.number(u32::from(u16::MAX))?).ok()?);
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    fn p(s: &str) -> Uri<'_> {
        match Uri::parse(s.as_bytes()) {
            Ok(u) => u,
            Err(e) => panic!("{s:?} did not parse: {e}"),
        }
    }

    fn err(s: &[u8]) -> UriError {
        match Uri::parse(s) {
            Ok(u) => panic!("{s:?} parsed as {u:?}"),
            Err(e) => e,
        }
    }

    fn eqv(a: &str, b: &str) -> bool {
        let (a, b) = (p(a), p(b));
        let ab = a.equivalent(&b);
        assert_eq!(ab, b.equivalent(&a), "asymmetric: {a} / {b}");
        ab
    }

    // ---- RFC 3261 §19.1.4 examples -------------------------------------------------------

    #[test]
    fn rfc3261_equivalent_sets() {
        assert!(eqv(
            "sip:%61lice@atlanta.com;transport=TCP",
            "sip:alice@AtLanTa.CoM;Transport=tcp"
        ));
        let carol = [
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;newparam=5",
            "sip:carol@chicago.com;security=on",
        ];
        for a in carol {
            for b in carol {
                assert!(eqv(a, b), "{a} / {b}");
            }
        }
        assert!(eqv(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eqv(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
    }

    #[test]
    fn rfc3261_not_equivalent_sets() {
        let pairs = [
            // different usernames
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            // can resolve to different ports
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            // can resolve to different transports
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            // can resolve to different port and transports
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            // different header component
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            // even though that's what phone21.boxesbybob.com resolves to
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ];
        for (a, b) in pairs {
            assert!(!eqv(a, b), "{a} / {b}");
        }
    }

    #[test]
    fn rfc3261_equality_is_not_transitive() {
        assert!(eqv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=on"
        ));
        assert!(eqv(
            "sip:carol@chicago.com",
            "sip:carol@chicago.com;security=off"
        ));
        assert!(!eqv(
            "sip:carol@chicago.com;security=on",
            "sip:carol@chicago.com;security=off"
        ));
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn comparison_rules() {
        // SIP vs SIPS.
        assert!(!eqv("sip:a@b.com", "sips:a@b.com"));
        // Omitted password vs present.
        assert!(!eqv("sip:a@b.com", "sip:a:@b.com"));
        assert!(eqv("sip:a:x%79z@b.com", "sip:a:xyz@b.com"));
        assert!(!eqv("sip:a:xyz@b.com", "sip:a:XYZ@b.com"));
        // Omitted user vs present.
        assert!(!eqv("sip:b.com", "sip:a@b.com"));
        // user, ttl, method, maddr, transport: present in only one never match.
        for prm in [
            "user=phone",
            "ttl=1",
            "method=INVITE",
            "maddr=1.2.3.4",
            "transport=udp",
        ] {
            let with = format!("sip:a@b.com;{prm}");
            assert!(!eqv("sip:a@b.com", &with), "{prm}");
            assert!(eqv(
                &with,
                &with.to_uppercase().replace("SIP:A@B.COM", "sip:a@b.com")
            ));
        }
        // Other params in only one are ignored, in both must match (case-insensitively).
        assert!(eqv("sip:a@b.com;lr", "sip:a@b.com"));
        assert!(eqv("sip:a@b.com;x=ABC;y", "sip:a@b.com;y;X=abc"));
        assert!(!eqv("sip:a@b.com;x", "sip:a@b.com;x=1"));
        // Escaped unreserved characters equal their literal form; reserved ones do not.
        assert!(eqv("sip:a@b.com;x=%41", "sip:a@b.com;x=a"));
        assert!(!eqv("sip:a%3Bb@c.com", "sip:a;b@c.com"));
        assert!(eqv("sip:a%3bb@c.com", "sip:a%3Bb@c.com"));
        // Headers: names case-insensitive, values exact, as multisets.
        assert!(eqv("sip:a@b.com?X=1&y=2", "sip:a@b.com?y=2&x=1"));
        assert!(!eqv("sip:a@b.com?x=A", "sip:a@b.com?x=a"));
        assert!(!eqv("sip:a@b.com?x=1&x=1", "sip:a@b.com?x=1"));
        assert!(!eqv("sip:a@b.com?x=1", "sip:a@b.com?x=1&y="));
        // Hosts: addresses by value, names case-insensitively.
        assert!(eqv("sip:[2001:db8::10]", "sip:[2001:DB8:0:0::10]"));
        assert!(eqv("sip:a@010.0.0.1", "sip:a@10.0.0.1"));
        assert!(!eqv("sip:a@example.com", "sip:a@example.org"));
        // Different schemes never match.
        assert!(!eqv("sip:a@b.com", "tel:+1234"));
    }

    // ---- RFC 4475 ------------------------------------------------------------------------

    #[test]
    fn esc01() {
        let u = p("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(u.user(), Some("sips%3Auser%40example.com"));
        assert_eq!(u.password(), None);
        assert_eq!(u.host(), Some(Host::Name("example.net")));
        let mut buf = [0u8; 64];
        assert_eq!(
            unescape(u.user().unwrap().as_bytes(), &mut buf),
            Some(&b"sips:user@example.com"[..])
        );
        // The same user with unreserved characters escaped, hex in lower case.
        assert!(eqv(
            "sip:sips%3Auser%40example.com@example.net",
            "sip:%73ips%3auser%40%65xample.com@EXAMPLE.net"
        ));
        assert!(eqv("sip:%75se%72@example.com", "sip:user@example.com"));
        assert!(!eqv("sip:%75se%72@example.com", "sip:USER@example.com"));
        let from = p("sip:I%20have%20spaces@example.net");
        assert_eq!(from.user(), Some("I%20have%20spaces"));
        // Escaped parameter names and values; unescaping is not recursive.
        let c = "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31";
        let u = p(c);
        assert!(u.lr());
        assert_eq!(u.param("name"), Some(Some(&b"v%61lue%25%34%31"[..])));
        assert!(eqv(c, "sip:caller@host5.example.net;lr;name=value%2541"));
        assert!(!eqv(c, "sip:caller@host5.example.net;lr;name=valueA"));
    }

    #[test]
    fn escnull() {
        let u = p("sip:null-%00-null@example.com");
        assert_eq!(u.user(), Some("null-%00-null"));
        let mut buf = [0u8; 16];
        assert_eq!(
            unescape(b"null-%00-null", &mut buf),
            Some(&b"null-\0-null"[..])
        );
        let a = "sip:%00@host5.example.com";
        let b = "sip:%00%00@host5.example.com";
        assert_eq!(p(a).user(), Some("%00"));
        assert!(!eqv(a, b));
        assert!(eqv(b, b));
    }

    #[test]
    fn semiuri() {
        let u = p("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), Some(Host::Name("example.com")));
        assert!(u.params().is_empty());
        assert_eq!(u.param("par"), None);
        assert_eq!(u.headers(), None);
    }

    #[test]
    fn intmeth_userinfo() {
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = p(s);
        assert_eq!(
            u.user(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host(), Some(Host::Name("example.com")));
        let to = p("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
        assert_eq!(to.password(), None);
        assert!(!to.equivalent(&u));
    }

    #[test]
    fn unknown_param_without_value() {
        let u = p("sip:vivekg@chair-dnrc.example.com;unknownparam");
        assert_eq!(u.host(), Some(Host::Name("chair-dnrc.example.com")));
        assert_eq!(u.param("unknownparam"), Some(None));
        assert_eq!(u.params().get("unknownparam"), Some(None));
        assert_eq!(u.params().as_bytes(), b";unknownparam");
        // cparam01 / cparam02
        let u = p("sip:+19725552222@gw1.example.net;unknownparam");
        assert_eq!(u.user(), Some("+19725552222"));
        assert_eq!(u.param("UnknownParam"), Some(None));
        let u = p("sip:services.example.com;lr;unknownwith=value;unknown-no-value");
        assert_eq!(u.user(), None);
        assert!(u.lr());
        assert_eq!(u.param("unknownwith"), Some(Some(&b"value"[..])));
        assert_eq!(u.param("unknown-no-value"), Some(None));
    }

    #[test]
    fn escaped_headers() {
        // escruri / regescrt: valid URI syntax; what to do with the header is up to the caller.
        let u = p("sip:user@example.com?Route=%3Csip:example.com%3E");
        assert_eq!(u.headers(), Some("Route=%3Csip:example.com%3E"));
        assert!(u.params().is_empty());
        let u = p("sip:user@example.com?Route=%3Csip:sip.example.com%3E");
        assert_eq!(u.host(), Some(Host::Name("example.com")));
    }

    #[test]
    fn longreq_uris() {
        let long = "sip:user@example.com:6000;unknownparam1=verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongvalue;longparamnamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename=shortvalue;verylonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglongParameterNameWithNoValue";
        let u = p(long);
        assert_eq!(u.port(), Some(6000));
        assert_eq!(u.params().iter().count(), 3);
        assert_eq!(
            u.param("longparamnamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamenamename"),
            Some(Some(&b"shortvalue"[..]))
        );
        let u = p("sip:amazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallernameamazinglylongcallername@host5.example.net");
        assert_eq!(u.user().map(str::len), Some(115));
    }

    #[test]
    fn rfc4475_rejections() {
        // ltgtruri, lwsruri, badaspec
        assert_eq!(err(b"<sip:user@example.com>"), UriError::IllegalChar);
        assert_eq!(err(b"sip:user@example.com; lr"), UriError::IllegalChar);
        assert_eq!(err(b" sip:t.watson@example.org "), UriError::IllegalChar);
    }

    // ---- other schemes -------------------------------------------------------------------

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn ipv6_host() {
        let u = p("sip:[2001:db8::10]:5070;transport=tcp");
        let addr: Ipv6Addr = "2001:db8::10".parse().unwrap();
        assert_eq!(u.host(), Some(Host::Ipv6(addr)));
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.transport(), Some("tcp"));
        assert_eq!(u.host().unwrap().to_string(), "[2001:db8::10]");
        assert_eq!(u.port_or_default(), 5070);
        let u = p("sip:alice@[::ffff:192.0.2.1];maddr=[2001:db8::1]");
        assert_eq!(u.maddr(), Some("[2001:db8::1]"));
        assert_eq!(u.host().unwrap().to_string(), "[::ffff:192.0.2.1]");
    }

    #[test]
    #[cfg(feature = "tel")]
    fn tel_uris() {
        let u = p("tel:+1-201-555-0123");
        assert_eq!(u.scheme(), Scheme::Tel);
        assert_eq!(u.opaque(), "+1-201-555-0123");
        assert_eq!((u.user(), u.host(), u.port()), (None, None, None));
        assert!(u.params().is_empty());
        assert!(!u.is_sip());
        let u = p("TEL:7042;phone-context=example.com;ext=22");
        assert_eq!(u.scheme_str(), "TEL");
        assert_eq!(u.opaque(), "7042;phone-context=example.com;ext=22");
        assert_eq!(u.params().as_bytes(), b";phone-context=example.com;ext=22");
        assert_eq!(u.param("phone-context"), Some(Some(&b"example.com"[..])));
        assert!(eqv("tel:+1-201-555-0123", "tel:+1(201)5550123"));
        assert!(!eqv("tel:+1-201-555-0123", "tel:+1-201-555-0124"));
        assert!(eqv(
            "tel:7042;phone-context=EXAMPLE.com",
            "tel:7042;Phone-Context=example.com"
        ));
        assert!(!eqv(
            "tel:7042;phone-context=a.com",
            "tel:7042;phone-context=a.com;ext=1"
        ));
        assert!(!eqv("tel:+1234", "sip:+1234@example.com"));
        assert_eq!(err(b"tel:;x=1"), UriError::BadUserinfo);
        assert_eq!(err(b"tel:12+34"), UriError::BadUserinfo);
        assert_eq!(err(b"tel:+1 555"), UriError::IllegalChar);
        assert_eq!(err(b"tel:+1555?x=y"), UriError::BadUserinfo);
        assert_eq!(err(b"tel:+1555;x="), UriError::BadParams);
    }

    #[test]
    fn other_schemes() {
        // novelsc
        let u = p("soap.beep://192.0.2.103:3002");
        assert_eq!(u.scheme(), Scheme::Other);
        assert_eq!(u.scheme_str(), "soap.beep");
        assert_eq!(u.opaque(), "//192.0.2.103:3002");
        assert_eq!((u.host(), u.port(), u.user()), (None, None, None));
        assert_eq!(u.port_or_default(), 5060);
        // unkscm, unksm2
        let u = p("nobodyKnowsThisScheme:totallyopaquecontent");
        assert_eq!(u.opaque(), "totallyopaquecontent");
        assert_eq!(p("name:John_Smith").scheme_str(), "name");
        assert_eq!(p("http://www.example.com").opaque(), "//www.example.com");
        assert_eq!(p("mailto:x@y").opaque(), "x@y");
        assert!(eqv(
            "HTTP://www.example.com/%7Ex",
            "http://www.example.com/~x"
        ));
        assert!(!eqv("http://www.example.com/A", "http://www.example.com/a"));
        assert!(!eqv("http://x", "https://x"));
        assert_eq!(err(b"http://x y"), UriError::IllegalChar);
        assert_eq!(err(b"http://x/%g0"), UriError::BadEscape);
        assert_eq!(err(b"mailto:<x@y>"), UriError::IllegalChar);
        assert_eq!(err(b"x:a\"b"), UriError::IllegalChar);
        assert_eq!(err(b"x:a\x01"), UriError::IllegalChar);
    }

    // ---- accessors -----------------------------------------------------------------------

    #[test]
    fn parameters() {
        let u = p("sip:alice@atlanta.com;maddr=239.255.255.1;ttl=15;user=phone;method=INVITE;lr;transport=TLS");
        assert_eq!(u.maddr(), Some("239.255.255.1"));
        assert_eq!(u.ttl(), Some(15));
        assert_eq!(u.user_param(), Some("phone"));
        assert_eq!(u.method_param(), Some("INVITE"));
        assert!(u.lr());
        assert_eq!(u.transport(), Some("TLS"));
        assert_eq!(u.port_or_default(), 5061);
        assert_eq!(u.params().iter().count(), 6);
        assert_eq!(p("sip:a@b.com;ttl=256").ttl(), None);
        assert_eq!(p("sip:a@b.com;ttl=0255").ttl(), None);
        assert_eq!(p("sip:a@b.com;ttl=x").ttl(), None);
        assert!(!p("sip:a@b.com;lrx").lr());
        assert!(p("sip:a@b.com;lr=on").lr());
        assert_eq!(p("sip:a@b.com").port_or_default(), 5060);
        assert_eq!(p("sips:a@b.com").port_or_default(), 5061);
        assert_eq!(p("sips:a@b.com:5070").port_or_default(), 5070);
        assert_eq!(p("sip:a@b.com;transport=tcp").port_or_default(), 5060);
        assert_eq!(p("sip:a@b.com").param("lr"), None);
        assert_eq!(p("sip:a@b.com").params(), Params::new(b""));
        // inv2543
        let u = p("sip:+13035551111@ift.client.example.net;user=phone");
        assert_eq!(u.user_param(), Some("phone"));
        assert_eq!(
            p("sip:UserB@example.com;maddr=ss1.example.com").maddr(),
            Some("ss1.example.com")
        );
    }

    #[test]
    fn parts_and_display() {
        let s = "SIPS:Bob:pw@Biloxi.Example.COM.:0;a=1?h=&k=v";
        let u = p(s);
        assert_eq!(u.scheme(), Scheme::Sips);
        assert_eq!(u.scheme_str(), "SIPS");
        assert_eq!(u.user(), Some("Bob"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), Some(Host::Name("Biloxi.Example.COM.")));
        assert_eq!(u.port(), Some(0));
        assert_eq!(u.params().as_bytes(), b";a=1");
        assert_eq!(u.headers(), Some("h=&k=v"));
        assert_eq!(u.opaque(), "Bob:pw@Biloxi.Example.COM.:0;a=1?h=&k=v");
        assert_eq!(u.raw(), s);
        assert_eq!(u.to_string(), s);
        assert!(u.is_sip());
        let u = p("sip:127.0.0.1:5080");
        assert_eq!(u.host(), Some(Host::Ipv4(Ipv4Addr::new(127, 0, 0, 1))));
        assert_eq!(u.host().unwrap().to_string(), "127.0.0.1");
        assert_eq!(p("sip:u:@h").password(), Some(""));
        assert_eq!(p("sip:a@x").host(), Some(Host::Name("x")));
        assert_eq!(p("sip:a@3com.com").host(), Some(Host::Name("3com.com")));
        assert!(Host::Name("A.b").eq_host(&Host::Name("a.B")));
        assert!(!Host::Name("1.2.3.4").eq_host(&Host::Ipv4(Ipv4Addr::new(1, 2, 3, 4))));
    }

    #[test]
    fn rejections() {
        let cases: [(&[u8], UriError); 36] = [
            (b"", UriError::Empty),
            (b"sip:", UriError::Empty),
            (b"sip", UriError::BadScheme),
            (b"1sip:a@b", UriError::BadScheme),
            (b"si_p:a@b", UriError::BadScheme),
            (b":a@b", UriError::BadScheme),
            (b"sip:exa mple.com", UriError::IllegalChar),
            (b"<sip:a@b>", UriError::IllegalChar),
            (b"sip:a@b>", UriError::IllegalChar),
            (b"sip:a@b:99999", UriError::BadPort),
            (b"sip:a@b:65536", UriError::BadPort),
            (b"sip:a@b:", UriError::BadPort),
            (b"sip:a@b:12x", UriError::BadPort),
            (b"sip:a@b:99999999999999999999999", UriError::BadPort),
            (b"sip:%zz@b", UriError::BadEscape),
            (b"sip:a%4@b", UriError::BadEscape),
            (b"sip:b;x=%", UriError::BadEscape),
            (b"sip:user@", UriError::BadHost),
            (b"sip:@b", UriError::BadUserinfo),
            (b"sip:a:b:c@d", UriError::BadUserinfo),
            (b"sip:a:b;c@d", UriError::BadUserinfo),
            (b"sip:a@-b.com", UriError::BadHost),
            (b"sip:a@b-.com", UriError::BadHost),
            (b"sip:a@b..com", UriError::BadHost),
            (b"sip:a@.com", UriError::BadHost),
            (b"sip:a@b.1com", UriError::BadHost),
            (b"sip:a@1.2.3", UriError::BadHost),
            (b"sip:a@256.1.1.1", UriError::BadHost),
            (b"sip:a@[::1", UriError::BadHost),
            (b"sip:a@[::g]", UriError::BadHost),
            (b"sip:a@b@c", UriError::BadHost),
            (b"sip:a@b;x=", UriError::BadParams),
            (b"sip:a@b;", UriError::BadParams),
            (b"sip:a@b;;x", UriError::BadParams),
            (b"sip:a@b?", UriError::BadHeaders),
            (b"sip:a@b?x", UriError::BadHeaders),
        ];
        for (s, e) in cases {
            assert_eq!(err(s), e, "{:?}", std::str::from_utf8(s));
        }
        let more: [(&[u8], UriError); 7] = [
            (b"sip:a@b?x=1&", UriError::BadHeaders),
            (b"sip:a@b?x=1=2", UriError::BadHeaders),
            (b"sip:a@b#frag", UriError::IllegalChar),
            (b"sip:a@b\r\n", UriError::IllegalChar),
            (b"sip:\xc3\xa9@b", UriError::IllegalChar),
            (b"sip:a@b\0", UriError::IllegalChar),
            (b"sip:a\"@b", UriError::IllegalChar),
        ];
        for (s, e) in more {
            assert_eq!(err(s), e, "{s:?}");
        }
    }

    #[test]
    fn unescape_cases() {
        let mut out = [0u8; 8];
        assert_eq!(unescape(b"a%41%2541", &mut out), Some(&b"aA%41"[..]));
        assert_eq!(unescape(b"", &mut out), Some(&b""[..]));
        assert_eq!(unescape(b"%4", &mut out), None);
        assert_eq!(unescape(b"%zz", &mut out), None);
        assert_eq!(unescape(b"123456789", &mut out), None);
        assert_eq!(
            unescape(b"%31%32%33%34%35%36%37%38", &mut out),
            Some(&b"12345678"[..])
        );
    }

    #[test]
    fn error_display() {
        assert_eq!(UriError::BadPort.to_string(), "malformed URI port");
        let e: &dyn core::error::Error = &UriError::Empty;
        assert_eq!(e.to_string(), "empty URI");
    }

    // ---- property tests ------------------------------------------------------------------

    /// The generated parts of a SIP URI.
    #[derive(Clone, Debug)]
    struct Parts {
        sips: bool,
        user: Option<String>,
        password: Option<String>,
        host: GenHost,
        port: Option<u16>,
        params: Vec<(String, Option<String>)>,
        headers: Vec<(String, String)>,
    }

    #[derive(Clone, Debug)]
    enum GenHost {
        Name(String),
        V4(Ipv4Addr),
        V6(Ipv6Addr),
    }

    impl Parts {
        fn format(&self) -> String {
            let mut s = String::from(if self.sips { "sips:" } else { "sip:" });
            if let Some(u) = &self.user {
                s += u;
                if let Some(pw) = &self.password {
                    s += ":";
                    s += pw;
                }
                s += "@";
            }
            match &self.host {
                GenHost::Name(n) => s += n,
                GenHost::V4(a) => s += &a.to_string(),
                GenHost::V6(a) => s += &format!("[{a}]"),
            }
            if let Some(port) = self.port {
                s += &format!(":{port}");
            }
            s += &self.params_text();
            if !self.headers.is_empty() {
                s += "?";
                s += &self.headers_text();
            }
            s
        }

        fn params_text(&self) -> String {
            let mut s = String::new();
            for (n, v) in &self.params {
                s += ";";
                s += n;
                if let Some(v) = v {
                    s += "=";
                    s += v;
                }
            }
            s
        }

        fn headers_text(&self) -> String {
            let hs: Vec<String> = self
                .headers
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            hs.join("&")
        }
    }

    fn user_s() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9&=+$,;?/_.!~*'()-]|%[0-9a-fA-F]{2}){1,12}"
    }
    fn password_s() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9&=+$,_.!~*'()-]|%[0-9a-fA-F]{2}){0,8}"
    }
    // '(' and ')' are legal `paramchar`s, but `Params`' iterator does not read them in
    // names, so the generated names leave them out to keep the `Params` view comparable.
    fn pname_s() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9\\[\\]/:&+$_.!~*'-]|%[0-9a-fA-F]{2}){1,8}"
    }
    fn pvalue_s() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9\\[\\]/:&+$_.!~*'()-]|%[0-9a-fA-F]{2}){1,8}"
    }
    fn hname_s() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9\\[\\]/?:+$_.!~*'()-]|%[0-9a-fA-F]{2}){1,8}"
    }
    fn hvalue_s() -> impl Strategy<Value = String> {
        "([a-zA-Z0-9\\[\\]/?:+$_.!~*'()-]|%[0-9a-fA-F]{2}){0,8}"
    }
    fn host_s() -> impl Strategy<Value = GenHost> {
        prop_oneof![
            "([a-zA-Z0-9]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?\\.){0,3}[a-zA-Z]([a-zA-Z0-9-]{0,4}[a-zA-Z0-9])?\\.?"
                .prop_map(GenHost::Name),
            any::<[u8; 4]>().prop_map(|o| GenHost::V4(Ipv4Addr::from(o))),
            any::<[u16; 8]>().prop_map(|s| GenHost::V6(Ipv6Addr::from(s))),
        ]
    }
    fn parts_s() -> impl Strategy<Value = Parts> {
        (
            any::<bool>(),
            proptest::option::of((user_s(), proptest::option::of(password_s()))),
            host_s(),
            proptest::option::of(any::<u16>()),
            proptest::collection::vec((pname_s(), proptest::option::of(pvalue_s())), 0..=3),
            proptest::collection::vec((hname_s(), hvalue_s()), 0..=3),
        )
            .prop_map(|(sips, up, host, port, params, headers)| Parts {
                sips,
                user: up.as_ref().map(|(u, _)| u.clone()),
                password: up.and_then(|(_, pw)| pw),
                host,
                port,
                params,
                headers,
            })
    }

    /// Text made of URI-ish bytes, so that a fair share of it parses.
    fn uriish_s() -> impl Strategy<Value = String> {
        "(sip|sips|SIP|tel|x-y.z):[a-zA-Z0-9@:;=?&%.+\\[\\]/_-]{0,60}"
    }

    /// Small URIs over a tiny alphabet, so that pairs are often equivalent.
    fn small_sip_s() -> impl Strategy<Value = String> {
        concat!(
            "(sip|SIP|sips):((a|B|%61|%42|%3b|;|%)(:(a|%61))?@)?(x|X)(\\.y)?(:5060)?",
            "(;(lr|transport|ttl|x|%6cr|X|user)(=(a|A|%61|1))?){0,3}",
            "(\\?(h|H|%68)=(a|A|%61|)(&(h|k)=(a|%61)){0,2})?"
        )
    }

    /// The IPv4 parser before it was made one pass, kept to check the new one.
    fn parse_ipv4_reference(s: &[u8]) -> Option<Ipv4Addr> {
        let mut octets = [0u8; 4];
        let mut parts = s.split(|&b| b == b'.');
        for o in octets.iter_mut() {
            let p = parts.next()?;
            if p.len() > 3 {
                return None;
            }
            *o = u8::try_from(parse_u64(p, 255)?).ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Ipv4Addr::from(octets))
    }

    /// Whether [`parse_host`] and [`parse_host_reference`] agree at `i`.
    fn same_host(s: &[u8], i: usize) -> bool {
        match (parse_host(s, i), parse_host_reference(s, i)) {
            (Ok((RawHost::Name(x), i)), Ok((RawHost::Name(y), j))) => x == y && i == j,
            (Ok((RawHost::V4(x), i)), Ok((RawHost::V4(y), j))) => x == y && i == j,
            (Ok((RawHost::V6(x), i)), Ok((RawHost::V6(y), j))) => x == y && i == j,
            (Err(x), Err(y)) => x == y,
            _ => false,
        }
    }

    /// The hostname parser before it was rewritten label by label, kept to check the new
    /// one.
    fn parse_host_reference(s: &[u8], i: usize) -> Result<(RawHost, usize), UriError> {
        if s.get(i) == Some(&b'[') {
            // IPv6reference = "[" IPv6address "]"
            let a = i + 1;
            let e = scan(s, a, IPV6);
            if s.get(e) != Some(&b']') {
                return Err(stop_err(s, e, UriError::BadHost));
            }
            let addr = s
                .get(a..e)
                .and_then(|t| core::str::from_utf8(t).ok())
                .and_then(|t| t.parse::<Ipv6Addr>().ok())
                .ok_or(UriError::BadHost)?;
            return Ok((RawHost::V6(addr), e + 1));
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]
        // domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
        // toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum
        // One pass: check label shapes and remember the first byte of the last label.
        let start = i;
        let mut j = i;
        let mut label_start = i;
        let mut prev = 0u8;
        let mut digits_and_dots = true;
        let mut top_first = 0u8;
        while let Some(&b) = s.get(j) {
            if !has(b, HOST) {
                break;
            }
            match b {
                b'.' => {
                    if j == label_start || prev == b'-' {
                        return Err(UriError::BadHost);
                    }
                    label_start = j + 1;
                }
                b'-' => {
                    if j == label_start {
                        return Err(UriError::BadHost);
                    }
                    digits_and_dots = false;
                }
                _ => {
                    if j == label_start {
                        top_first = b;
                    }
                    if !b.is_ascii_digit() {
                        digits_and_dots = false;
                    }
                }
            }
            prev = b;
            j += 1;
        }
        if j == start {
            return Err(stop_err(s, j, UriError::BadHost));
        }
        let text = s.get(start..j).unwrap_or_default();
        if digits_and_dots {
            // Only a toplabel may not start with a digit, so this can only be an IPv4address.
            let a = parse_ipv4(text).ok_or(UriError::BadHost)?;
            return Ok((RawHost::V4(a), j));
        }
        // A label cannot end with '-' (a trailing '.' was checked above); the toplabel (the last
        // label, before an optional trailing '.') starts with a letter.
        if prev == b'-' || !top_first.is_ascii_alphabetic() {
            return Err(UriError::BadHost);
        }
        Ok((RawHost::Name((start, j)), j))
    }

    /// URIs close to the common shape, and bytes that push them out of it.
    fn near_common_s() -> impl Strategy<Value = String> {
        concat!(
            "(sip|SIP|sIps|sips|sipx|si):",
            "(([a-z0-9;?/&=+$,-]|%4[01]|:|@){0,4}@)?",
            "([a-z0-9-]{0,3}\\.){0,3}([a-z0-9-]{0,3}|[0-9]{1,4}|\\[::1\\])\\.?",
            "(:[0-9]{0,7})?",
            "(;([a-z:&+$\\[\\]/-]|%6c|){0,3}(=([a-z0-9:-]|%41|){0,3})?){0,3}",
            "(\\?[a-z]=[a-z]?)?[ >@:;.%-]?"
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn common_shape_agrees_with_the_general_parser(
            text in prop_oneof![near_common_s(), small_sip_s(), uriish_s(), parts_s().prop_map(|p| p.format())]
        ) {
            if let Some(u) = Uri::parse_common(text.as_bytes()) {
                prop_assert_eq!(Ok(u), Uri::parse_general(text.as_bytes()), "{}", text);
            }
        }

        #[test]
        #[cfg(feature = "ipv6")] // IPv6 literals
        fn round_trip(parts in parts_s()) {
            let text = parts.format();
            let u = Uri::parse(text.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(u.raw(), text.as_str());
            prop_assert_eq!(u.scheme(), if parts.sips { Scheme::Sips } else { Scheme::Sip });
            prop_assert_eq!(u.user(), parts.user.as_deref());
            prop_assert_eq!(u.password(), parts.password.as_deref());
            let host = match &parts.host {
                GenHost::Name(n) => Host::Name(n),
                GenHost::V4(a) => Host::Ipv4(*a),
                GenHost::V6(a) => Host::Ipv6(*a),
            };
            prop_assert_eq!(u.host(), Some(host));
            prop_assert_eq!(u.port(), parts.port);
            let params = parts.params_text();
            prop_assert_eq!(u.params().as_bytes(), params.as_bytes());
            let got: Vec<(&str, Option<&[u8]>)> =
                u.params().iter().map(|p| (p.name, p.value)).collect();
            let want: Vec<(&str, Option<&[u8]>)> = parts
                .params
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_deref().map(str::as_bytes)))
                .collect();
            prop_assert_eq!(got, want);
            let headers = parts.headers_text();
            prop_assert_eq!(u.headers(), (!parts.headers.is_empty()).then_some(headers.as_str()));
            prop_assert!(u.equivalent(&u));
            prop_assert_eq!(u.to_string(), text);
        }

        #[test]
        #[cfg(feature = "ipv6")] // IPv6 literals
        fn equivalent_variants(parts in parts_s(), upper in any::<bool>()) {
            // Reordering parameters (with distinct names) and headers, upper-casing a host
            // name and escaping unreserved user characters keeps the URI equivalent.
            let mut seen = std::collections::HashSet::new();
            let mut parts = parts;
            parts.params.retain(|(n, _)| {
                let mut buf = [0u8; 16];
                let key = unescape(n.as_bytes(), &mut buf).map(|k| k.to_ascii_lowercase());
                seen.insert(key)
            });
            let a = parts.format();
            let mut v = parts.clone();
            v.params.reverse();
            v.headers.reverse();
            if let GenHost::Name(n) = &mut v.host {
                if upper {
                    *n = n.to_uppercase();
                }
            }
            if let Some(u) = &mut v.user {
                // Escape the alphanumerics that are not already part of an escape.
                let mut out = String::new();
                let mut rest = u.as_str();
                while let Some(c) = rest.chars().next() {
                    let n = if c == '%' { 3 } else { 1 };
                    let (head, tail) = rest.split_at(n);
                    if c.is_ascii_alphanumeric() {
                        out += &format!("%{:02x}", u32::from(c));
                    } else {
                        out += head;
                    }
                    rest = tail;
                }
                *u = out;
            }
            let b = v.format();
            let (ua, ub) = (p(&a), p(&b));
            prop_assert!(ua.equivalent(&ub), "{} / {}", a, b);
            prop_assert!(ub.equivalent(&ua), "{} / {}", b, a);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..=200)) {
            if let Ok(u) = Uri::parse(&bytes) {
                prop_assert!(u.equivalent(&u));
                prop_assert_eq!(u.raw().as_bytes(), &bytes[..]);
            }
        }

        #[test]
        fn parse_host_matches_reference(s in "[a-zA-Z0-9.\\-]{0,12}[;:@?>]?[a-z.]{0,3}") {
            prop_assert!(same_host(s.as_bytes(), 0), "{}", s);
        }

        /// Longer hosts, mostly well formed (many labels, digits, hyphens, a final dot),
        /// with a bad piece inserted anywhere, then a byte that ends a host (or NUL, or a
        /// non-ASCII one), read after a prefix of any length: the label loop agrees with
        /// the reference.
        #[test]
        fn long_hosts_match_reference(
            prefix in "[a-z:@]{0,20}",
            host in concat!(
                "(([a-z0-9]|[a-z0-9][a-z0-9-]{0,9}[a-z0-9])[.]){0,12}",
                "([a-zA-Z]|[0-9]|[a-z][a-z0-9-]{0,9}[a-z0-9]|-|)[.]?",
            ),
            noise in "([.-]|[a-z.-]{1,3}|)",
            at in 0usize..80,
            tail in "([;:>?@ ,\\x00\\x80][a-z]{0,20})?",
        ) {
            let mut h = host;
            h.insert_str(at.min(h.len()), &noise);
            let input = std::format!("{prefix}{h}{tail}");
            prop_assert!(same_host(input.as_bytes(), prefix.len()), "{:?} at {}", input, prefix.len());
        }

        #[test]
        fn parse_ipv4_matches_reference(s in "[0-9.a]{0,17}") {
            prop_assert_eq!(parse_ipv4(s.as_bytes()), parse_ipv4_reference(s.as_bytes()), "{}", s);
        }

        #[test]
        fn parse_sip_shortcut_matches_full(
            s in "[a-zA-Z0-9@:;=?&%.+\\[\\]/_-]{0,40}",
            t in concat!(
                "((a|1|%61|;|%|x\\.y)(:(a|%61|))?@)?(x|X|1\\.2\\.3\\.4|\\[::1\\]|-|)(\\.y|\\.)?",
                "(:5060|:x|:)?(;(lr|x|@)(=(a|%61|@|))?){0,3}(\\?(h|@)=(a|)(&(h|k)=(a|%61)){0,2})?"
            ),
        ) {
            for s in [s.as_bytes(), t.as_bytes()] {
                prop_assert_eq!(parse_sip(s, 0), parse_sip_full(s, 0), "{:?}", core::str::from_utf8(s));
            }
        }

        #[test]
        fn never_panics_uriish(s in uriish_s()) {
            let _ = Uri::parse(s.as_bytes());
        }

        #[test]
        fn equivalent_is_reflexive_and_symmetric(a in small_sip_s(), b in small_sip_s()) {
            let ua = Uri::parse(a.as_bytes());
            let ub = Uri::parse(b.as_bytes());
            if let Ok(ua) = &ua {
                prop_assert!(ua.equivalent(ua), "{}", a);
                let _ = (ua.transport(), ua.maddr(), ua.lr(), ua.ttl(), ua.port_or_default());
            }
            if let (Ok(ua), Ok(ub)) = (ua, ub) {
                prop_assert_eq!(ua.equivalent(&ub), ub.equivalent(&ua));
            }
        }
    }
}
