//! Header lines as the parser hands them out, and the names SIP knows (RFC 3261 §7.3, §20).

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident = $canon:literal $(, compact $c:literal)? ; )*) => {
        /// A header field name, recognised case-insensitively in its full or compact form
        /// (§7.3.3). Unknown names are [`HeaderName::Other`]; compare those by
        /// [`Header::raw_name`].
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// A header sipwire does not know by name (still carried and forwarded).
            Other,
        }


        /// Every known name, in the order of [`NAMES`].
        const ALL: &[HeaderName] = &[ $( HeaderName::$variant, )* ];

        /// The canonical spellings, indexed by the variants' discriminants.
        const NAMES: &[&str] = &[ $( $canon, )* ];

        /// The header whose compact form (§7.3.3) is `c`, in either case.
        #[inline]
        fn compact(c: u8) -> HeaderName {
            match c | 0x20 {
                $( $( $c => HeaderName::$variant, )? )*
                _ => HeaderName::Other,
            }
        }

        impl HeaderName {
            /// The canonical spelling (for `Other`, an empty string).
            pub const fn as_str(&self) -> &'static str {
                // One lookup in `NAMES` (the discriminants index it): smaller than a
                // `match` of string constants.
                let i = *self as usize;
                if i < NAMES.len() {
                    NAMES[i]
                } else {
                    ""
                }
            }

            /// The compact form (§7.3.3), if the header has one.
            pub const fn compact(&self) -> Option<u8> {
                match self {
                    $( $( HeaderName::$variant => Some($c), )? )*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            /// Looks a name up, ignoring ASCII case; compact forms included.
            pub fn from_bytes(name: &[u8]) -> HeaderName {
                lookup_in(name, name.len())
            }
        }
    };
}

header_names! {
    /// Accept (§20.1).
    Accept = "Accept";
    /// Accept-Contact (RFC 3841).
    AcceptContact = "Accept-Contact", compact b'a';
    /// Accept-Encoding (§20.2).
    AcceptEncoding = "Accept-Encoding";
    /// Accept-Language (§20.3).
    AcceptLanguage = "Accept-Language";
    /// Alert-Info (§20.4).
    AlertInfo = "Alert-Info";
    /// Allow (§20.5).
    Allow = "Allow";
    /// Allow-Events (RFC 6665).
    AllowEvents = "Allow-Events", compact b'u';
    /// Authentication-Info (§20.6).
    AuthenticationInfo = "Authentication-Info";
    /// Authorization (§20.7).
    Authorization = "Authorization";
    /// Call-ID (§20.8).
    CallId = "Call-ID", compact b'i';
    /// Call-Info (§20.9).
    CallInfo = "Call-Info";
    /// Contact (§20.10).
    Contact = "Contact", compact b'm';
    /// Content-Disposition (§20.11).
    ContentDisposition = "Content-Disposition";
    /// Content-Encoding (§20.12).
    ContentEncoding = "Content-Encoding", compact b'e';
    /// Content-Language (§20.13).
    ContentLanguage = "Content-Language";
    /// Content-Length (§20.14).
    ContentLength = "Content-Length", compact b'l';
    /// Content-Type (§20.15).
    ContentType = "Content-Type", compact b'c';
    /// CSeq (§20.16).
    CSeq = "CSeq";
    /// Date (§20.17).
    Date = "Date";
    /// Error-Info (§20.18).
    ErrorInfo = "Error-Info";
    /// Event (RFC 6665).
    Event = "Event", compact b'o';
    /// Expires (§20.19).
    Expires = "Expires";
    /// From (§20.20).
    From = "From", compact b'f';
    /// Identity (RFC 8224).
    Identity = "Identity", compact b'y';
    /// In-Reply-To (§20.21).
    InReplyTo = "In-Reply-To";
    /// Max-Forwards (§20.22).
    MaxForwards = "Max-Forwards";
    /// MIME-Version (§20.24).
    MimeVersion = "MIME-Version";
    /// Min-Expires (§20.23).
    MinExpires = "Min-Expires";
    /// Organization (§20.25).
    Organization = "Organization";
    /// Priority (§20.26).
    Priority = "Priority";
    /// Proxy-Authenticate (§20.27).
    ProxyAuthenticate = "Proxy-Authenticate";
    /// Proxy-Authorization (§20.28).
    ProxyAuthorization = "Proxy-Authorization";
    /// Proxy-Require (§20.29).
    ProxyRequire = "Proxy-Require";
    /// Record-Route (§20.30).
    RecordRoute = "Record-Route";
    /// Refer-To (RFC 3515).
    ReferTo = "Refer-To", compact b'r';
    /// Referred-By (RFC 3892).
    ReferredBy = "Referred-By", compact b'b';
    /// Reject-Contact (RFC 3841).
    RejectContact = "Reject-Contact", compact b'j';
    /// Reply-To (§20.31).
    ReplyTo = "Reply-To";
    /// Request-Disposition (RFC 3841).
    RequestDisposition = "Request-Disposition", compact b'd';
    /// Require (§20.32).
    Require = "Require";
    /// Retry-After (§20.33).
    RetryAfter = "Retry-After";
    /// Route (§20.34).
    Route = "Route";
    /// Server (§20.35).
    Server = "Server";
    /// Session-Expires (RFC 4028).
    SessionExpires = "Session-Expires", compact b'x';
    /// Subject (§20.36).
    Subject = "Subject", compact b's';
    /// Supported (§20.37).
    Supported = "Supported", compact b'k';
    /// Timestamp (§20.38).
    Timestamp = "Timestamp";
    /// To (§20.39).
    To = "To", compact b't';
    /// Unsupported (§20.40).
    Unsupported = "Unsupported";
    /// User-Agent (§20.41).
    UserAgent = "User-Agent";
    /// Via (§20.42).
    Via = "Via", compact b'v';
    /// Warning (§20.43).
    Warning = "Warning";
    /// WWW-Authenticate (§20.44).
    WwwAuthenticate = "WWW-Authenticate";
}

/// Every canonical name, for the tests of the parser's name reading.
#[cfg(all(test, not(feature = "small-code")))]
pub(crate) const CANONICAL: &[&str] = NAMES;

/// The canonical names lowercased, indexed by discriminant: three little-endian words each,
/// zero-padded.
///
/// A byte `b` of the input matches the canonical (lowercase) byte `c` exactly when
/// `b | fold == c`, with `fold = 0x20` at a letter and `0` elsewhere: at a letter,
/// `b | 0x20 == c` holds only for the two cases of that letter (`x | 0x20` is a lowercase
/// letter only if `x` is a letter); at a digit or `-`, it needs `b == c`. So the comparison
/// is an exact ASCII case-insensitive one for any input bytes, not only for `token`s, eight
/// bytes at a time. The fold words are not stored: in a canonical name only the lowercase
/// letters have bit `0x40` set (digits, `-` and the padding do not), so
/// [`fold_of`] derives them from the name itself.
#[cfg(not(feature = "small-code"))]
static FOLDED: [[u64; 3]; NAMES.len()] = fold_names();

#[cfg(not(feature = "small-code"))]
const fn fold_names() -> [[u64; 3]; NAMES.len()] {
    let mut out = [[0; 3]; NAMES.len()];
    let mut n = 0;
    while n < NAMES.len() {
        let name = NAMES[n].as_bytes();
        // Every canonical name fits three words (the longest has 19 bytes).
        assert!(name.len() <= 24);
        let mut i = 0;
        while i < name.len() {
            let b = name[i];
            // Only letters, digits and `-`, so that `fold_of` holds.
            assert!(b.is_ascii_alphanumeric() || b == b'-');
            out[n][i / 8] |= (b.to_ascii_lowercase() as u64) << (8 * (i % 8));
            i += 1;
        }
        n += 1;
    }
    out
}

/// The fold word of a word of a lowercased canonical name: `0x20` at each letter.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
const fn fold_of(lower: u64) -> u64 {
    (lower & 0x4040_4040_4040_4040) >> 1
}

/// Bytes `at..at + 8` of `line` as a little-endian word, with the bytes at or past `len`
/// cleared (all of them if `at >= len`). Reads past `len` when `line` is long enough, which is
/// the case in the parser (a name is followed by its colon and value); otherwise gathers the
/// bytes one by one.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
fn word_at(line: &[u8], at: usize, len: usize) -> u64 {
    let left = len.saturating_sub(at);
    if left == 0 {
        return 0;
    }
    let w = match line.get(at..).and_then(|s| s.first_chunk::<8>()) {
        Some(chunk) => u64::from_le_bytes(*chunk),
        None => {
            let mut w = 0u64;
            let mut i = 0;
            while let (true, Some(&b)) = (i < 8, line.get(at + i)) {
                w |= u64::from(b) << (8 * i);
                i += 1;
            }
            w
        }
    };
    if left >= 8 {
        w
    } else {
        w & ((1u64 << (8 * left)) - 1)
    }
}

/// One canonical name in [`NAME_TABLE`]: its first two lowercased words (see [`FOLDED`]; a
/// longer name's third word is checked there), its length and the name. Aligned to 32
/// bytes, so that one never straddles a cache line.
#[cfg(not(feature = "small-code"))]
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct NameSlot {
    words: [u64; 2],
    len: u8,
    name: HeaderName,
}

/// Buckets of [`NAME_TABLE`] (a power of two): over four times the names, so that a multiplier
/// that spreads them one to a bucket is quickly found.
#[cfg(not(feature = "small-code"))]
const NAME_BUCKETS: usize = 256;

/// Every bit `0x20` of a word: ORed into a name's words before hashing, so that both cases
/// of a letter hash alike (digits and `-` have the bit already).
#[cfg(not(feature = "small-code"))]
const CASELESS: u64 = 0x2020_2020_2020_2020;

/// The bucket of a name from its first two words (bytes past the name cleared) and its
/// length. Both words: Content-Encoding and Content-Language share the first.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
const fn name_bucket(first: u64, second: u64, len: usize, mult: u64) -> usize {
    let key = (first | CASELESS) ^ (second | CASELESS).rotate_left(29) ^ len as u64;
    (key.wrapping_mul(mult) >> (64 - NAME_BUCKETS.trailing_zeros())) as usize
}

/// The multiplier of [`name_bucket`] for the names SIP knows: the first odd number from a
/// fixed start that puts every canonical name in a bucket of its own, found at compile time
/// (a build whose names cannot be spread fails here).
#[cfg(not(feature = "small-code"))]
const NAME_MULT: u64 = find_name_mult();

#[cfg(not(feature = "small-code"))]
const fn find_name_mult() -> u64 {
    let mut mult: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut tries = 0;
    while tries < 10_000 {
        let mut used = [false; NAME_BUCKETS];
        let mut n = 0;
        let mut clash = false;
        while n < NAMES.len() && !clash {
            let b = name_bucket(FOLDED[n][0], FOLDED[n][1], NAMES[n].len(), mult);
            clash = used[b];
            used[b] = true;
            n += 1;
        }
        if !clash {
            return mult;
        }
        mult = mult.wrapping_add(0x6a09_e667_f3bc_c90a);
        tries += 1;
    }
    panic!("no multiplier spreads the header names one to a bucket");
}

/// The canonical names by [`name_bucket`]: one load finds the only candidate for a name, its
/// words and its length together. Empty buckets have length 0, which no full name has.
#[cfg(not(feature = "small-code"))]
static NAME_TABLE: [NameSlot; NAME_BUCKETS] = build_name_table();

#[cfg(not(feature = "small-code"))]
const fn build_name_table() -> [NameSlot; NAME_BUCKETS] {
    let empty = NameSlot {
        words: [0; 2],
        len: 0,
        name: HeaderName::Other,
    };
    let mut t = [empty; NAME_BUCKETS];
    let mut n = 0;
    while n < NAMES.len() {
        let b = name_bucket(FOLDED[n][0], FOLDED[n][1], NAMES[n].len(), NAME_MULT);
        t[b] = NameSlot {
            words: [FOLDED[n][0], FOLDED[n][1]],
            len: NAMES[n].len() as u8,
            name: ALL[n],
        };
        n += 1;
    }
    t
}

/// Looks up the name `line[..len]`, reading whole words of `line` past the name when it is
/// long enough. `len <= line.len()` is the caller's to ensure; a longer `len` finds nothing.
#[cfg_attr(not(feature = "small-code"), inline(always))]
pub(crate) fn lookup_in(line: &[u8], len: usize) -> HeaderName {
    match line.get(..len) {
        Some([c]) => compact(*c),
        Some(_) => lookup_full(line, len),
        None => HeaderName::Other,
    }
}

/// Finds a full (non-compact) header name `line[..len]`: the one candidate of its bucket
/// (see [`NAME_TABLE`]), compared a word at a time ignoring ASCII case (see [`FOLDED`]). The
/// test `every_name_round_trips_in_any_case` checks every name of the table is found.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
fn lookup_full(line: &[u8], len: usize) -> HeaderName {
    let name = lookup_words(word_at(line, 0, len), word_at(line, 8, len), len);
    if len <= 16 {
        return name;
    }
    // A name longer than two words: its third word too.
    let third = word_at(line, 16, len);
    match FOLDED.get(name as usize) {
        Some(&[_, _, w2]) if (third | fold_of(w2)) == w2 => name,
        _ => HeaderName::Other,
    }
}

/// The full (non-compact) name of `len` bytes whose first two words are `first` and
/// `second` (bytes past the name cleared): a name that long is known if these match; a
/// longer one (over 16 bytes) only if its third word matches too, which is the caller's
/// to check. `Other` for anything else.
#[cfg(not(feature = "small-code"))]
#[inline(always)]
pub(crate) fn lookup_words(first: u64, second: u64, len: usize) -> HeaderName {
    let Some(slot) = NAME_TABLE.get(name_bucket(first, second, len, NAME_MULT)) else {
        return HeaderName::Other;
    };
    let [w0, w1] = slot.words;
    if usize::from(slot.len) == len && (first | fold_of(w0)) == w0 && (second | fold_of(w1)) == w1 {
        slot.name
    } else {
        HeaderName::Other
    }
}

/// Finds a full (non-compact) header name `line[..len]` by comparing it with every
/// canonical name, ignoring ASCII case (feature `small-code`: neither `NAME_TABLE` nor
/// `FOLDED`, the same answers for about 9.5 KB less flash).
#[cfg(feature = "small-code")]
#[inline(never)]
fn lookup_full(line: &[u8], len: usize) -> HeaderName {
    let Some(name) = line.get(..len) else {
        return HeaderName::Other;
    };
    ALL.iter()
        .zip(NAMES)
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
        .map_or(HeaderName::Other, |(&h, _)| h)
}

impl HeaderName {
    /// Whether the header's grammar is a comma-separated list, so that several values may
    /// share one line or be split over several lines (§7.3.1). Authorization-style headers
    /// separate their parameters with commas and are not lists.
    pub const fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Accept
                | HeaderName::AcceptContact
                | HeaderName::AcceptEncoding
                | HeaderName::AcceptLanguage
                | HeaderName::AlertInfo
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::CallInfo
                | HeaderName::Contact
                | HeaderName::ContentEncoding
                | HeaderName::ContentLanguage
                | HeaderName::ErrorInfo
                | HeaderName::InReplyTo
                | HeaderName::ProxyRequire
                | HeaderName::RecordRoute
                | HeaderName::RejectContact
                | HeaderName::Require
                | HeaderName::Route
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Via
                | HeaderName::Warning
        )
    }

    /// Whether at most one value may appear in a message (§7.3.1: the headers whose grammar
    /// is not a list). RFC 4475 §3.3.8 requires several To, From, Call-ID, CSeq or
    /// Max-Forwards values to be answered 400.
    pub const fn is_single(&self) -> bool {
        matches!(
            self,
            HeaderName::CallId
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::CSeq
                | HeaderName::Expires
                | HeaderName::From
                | HeaderName::MaxForwards
                | HeaderName::MinExpires
                | HeaderName::To
        )
    }

    /// "Missing <name>" for the headers the parser or validation requires (§8.1.1).
    pub(crate) fn missing_reason(&self) -> &'static str {
        let i = match self {
            HeaderName::Via => 0,
            HeaderName::From => 1,
            HeaderName::To => 2,
            HeaderName::CallId => 3,
            HeaderName::CSeq => 4,
            HeaderName::MaxForwards => 5,
            HeaderName::Contact => 6,
            _ => 7,
        };
        crate::bytes::nth_phrase(
            "Missing Via|Missing From|Missing To|Missing Call-ID|Missing CSeq|\
             Missing Max-Forwards|Missing Contact|Missing Header",
            i,
        )
    }

    /// "Malformed <name>" for the headers whose value the parser or validation reads.
    pub(crate) fn bad_value_reason(&self) -> &'static str {
        let i = match self {
            HeaderName::Via => 0,
            HeaderName::From => 1,
            HeaderName::To => 2,
            HeaderName::CallId => 3,
            HeaderName::CSeq => 4,
            HeaderName::MaxForwards => 5,
            HeaderName::ContentLength => 6,
            HeaderName::ContentType => 7,
            HeaderName::Contact => 8,
            HeaderName::Expires => 9,
            HeaderName::Route => 10,
            HeaderName::RecordRoute => 11,
            _ => 12,
        };
        crate::bytes::nth_phrase(
            "Malformed Via|Malformed From|Malformed To|Malformed Call-ID|Malformed CSeq|\
             Malformed Max-Forwards|Malformed Content-Length|Malformed Content-Type|\
             Malformed Contact|Malformed Expires|Malformed Route|Malformed Record-Route|\
             Malformed Header",
            i,
        )
    }
}

/// One header line: its name and its raw value.
///
/// The value is zero-copy: white space around it is trimmed, but folded continuation lines
/// (`CRLF` + white space) stay inside it. The typed views in [`headers`](super::headers)
/// treat them as the `LWS` they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'b> {
    /// The recognised name, or [`HeaderName::Other`].
    pub name: HeaderName,
    /// The name as written in the message: a `token` (§7.3, §25.1), so ASCII; see
    /// [`Header::name_str`] for it as `str`.
    pub raw_name: &'b [u8],
    /// The value as written, trimmed of surrounding white space.
    pub value: &'b [u8],
}

impl<'b> Header<'b> {
    /// An empty slot, to initialise the caller's header array.
    pub const EMPTY: Header<'static> = Header {
        name: HeaderName::Other,
        raw_name: b"",
        value: b"",
    };

    /// The name as written, as `str`: always `Some` for a header the parser produced (a
    /// `token` is ASCII), `None` only for a hand-built header whose name is not UTF-8.
    pub fn name_str(&self) -> Option<&'b str> {
        super::lex::ascii(self.raw_name)
    }

    /// Whether this header is called `name` (case-insensitive; compact forms count).
    pub fn is(&self, name: &str) -> bool {
        match self.name {
            HeaderName::Other => self.raw_name.eq_ignore_ascii_case(name.as_bytes()),
            known => {
                known.as_str().eq_ignore_ascii_case(name)
                    || (name.len() == 1
                        && known.compact() == Some(name.as_bytes()[0].to_ascii_lowercase()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_full_and_compact() {
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"V"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
        for (c, h) in [
            (b'i', HeaderName::CallId),
            (b'm', HeaderName::Contact),
            (b'e', HeaderName::ContentEncoding),
            (b'c', HeaderName::ContentType),
            (b'f', HeaderName::From),
            (b's', HeaderName::Subject),
            (b'k', HeaderName::Supported),
            (b't', HeaderName::To),
            (b'o', HeaderName::Event),
            (b'u', HeaderName::AllowEvents),
            (b'r', HeaderName::ReferTo),
            (b'j', HeaderName::RejectContact),
        ] {
            assert_eq!(HeaderName::from_bytes(&[c]), h);
            assert_eq!(h.compact(), Some(c));
            assert_eq!(HeaderName::from_bytes(h.as_str().as_bytes()), h);
        }
    }

    #[test]
    fn every_name_round_trips_in_any_case() {
        let mut lower = [0u8; 32];
        for &h in ALL {
            let name = h.as_str().as_bytes();
            assert_eq!(HeaderName::from_bytes(name), h);
            let l = &mut lower[..name.len()];
            l.copy_from_slice(name);
            l.make_ascii_lowercase();
            assert_eq!(HeaderName::from_bytes(l), h);
            l.make_ascii_uppercase();
            assert_eq!(HeaderName::from_bytes(l), h);
            // One letter off is not the header.
            l[l.len() / 2] ^= 0x01;
            assert_ne!(HeaderName::from_bytes(l), h);
        }
    }

    #[test]
    fn header_is() {
        let h = Header {
            name: HeaderName::Via,
            raw_name: b"v",
            value: b"",
        };
        assert!(h.is("Via") && h.is("v") && h.is("V") && !h.is("To"));
        let h = Header {
            name: HeaderName::Other,
            raw_name: b"X-Foo",
            value: b"",
        };
        assert!(h.is("x-foo"));
    }
}
