//! Accessors on a parsed [`Message`]: the start line, header lookup, and typed views of the
//! headers every layer reads. Each typed accessor parses on demand.

use super::error::ParseError;
use super::header::{Header, HeaderName};
use super::headers::{self, CSeq, Contact, MediaType, NameAddr, Via};
use super::lex::{self, CommaValues};
use super::parser::{Message, StartLine, Version};
use super::uri::Uri;

impl<'b, 'h> Message<'b, 'h> {
    /// The start line.
    pub fn start_line(&self) -> &StartLine<'b> {
        &self.start
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&'b str> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&Uri<'b>> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&'b [u8]> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// The SIP-Version of the start line.
    pub fn version(&self) -> Version {
        match self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => version,
        }
    }

    /// All header lines, in order.
    pub fn headers(&self) -> &'h [Header<'b>] {
        self.headers
    }

    /// The body (exactly Content-Length octets, §18.3).
    pub fn body(&self) -> &'b [u8] {
        self.body
    }

    /// The start line and headers as received, up to and including the blank line.
    pub fn head(&self) -> &'b [u8] {
        self.head
    }

    /// The whole message as received: start line, headers and body (without the CRLFs a
    /// stream may carry before it).
    pub fn as_bytes(&self) -> &'b [u8] {
        self.raw
    }

    /// Bytes the message took from the buffer, leading CRLFs included: on a stream, drop
    /// this many and parse the rest.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the message took no bytes (never true for a parsed message).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first header line with this name.
    pub fn header(&self, name: HeaderName) -> Option<&'h Header<'b>> {
        self.headers.iter().find(|h| h.name == name)
    }

    /// Every header line with this name, in order.
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = &'h Header<'b>> + 'h {
        self.headers.iter().filter(move |h| h.name == name)
    }

    /// Every value of a header, in order: the comma-separated elements of list headers
    /// (§7.3.1) across all their lines, or each line's whole value for other headers.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = &'b [u8]> + 'h {
        Values {
            lines: self.headers.iter(),
            name,
            list: name.is_list(),
            split: None,
        }
    }

    /// The value of a single-valued header, or an error if it is absent.
    fn single(&self, name: HeaderName) -> Result<&'b [u8], ParseError> {
        self.header(name)
            .map(|h| h.value)
            .ok_or(ParseError::MissingHeader(name))
    }

    /// The topmost Via value (§8.1.1.7, §18.2.1), parsed; `Ok(None)` if there is no Via.
    pub fn top_via(&self) -> Result<Option<Via<'b>>, ParseError> {
        match self.header(HeaderName::Via) {
            None => Ok(None),
            Some(h) => Via::parse_top(h.value),
        }
    }

    /// Every Via value, top first, each parsed.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'b>, ParseError>> + 'h {
        self.list(HeaderName::Via, Via::parse_first)
    }

    /// The From header (§20.20).
    pub fn from(&self) -> Result<NameAddr<'b>, ParseError> {
        self.name_addr(HeaderName::From)
    }

    /// The To header (§20.39).
    pub fn to(&self) -> Result<NameAddr<'b>, ParseError> {
        self.name_addr(HeaderName::To)
    }

    fn name_addr(&self, name: HeaderName) -> Result<NameAddr<'b>, ParseError> {
        NameAddr::parse(self.single(name)?).ok_or(ParseError::BadHeaderValue(name))
    }

    /// The From tag (§19.3, §8.1.1.3), found without parsing the From URI: see
    /// [`NameAddr::find_tag`] for what is and is not checked. Equal to
    /// `self.from()?.tag()` whenever [`Message::from`] succeeds. `Ok(None)` if the From has
    /// no tag.
    #[inline]
    pub fn from_tag(&self) -> Result<Option<&'b str>, ParseError> {
        self.tag_of(HeaderName::From)
    }

    /// The To tag (§19.3, §8.2.6.2), found without parsing the To URI: see
    /// [`Message::from_tag`].
    #[inline]
    pub fn to_tag(&self) -> Result<Option<&'b str>, ParseError> {
        self.tag_of(HeaderName::To)
    }

    #[inline]
    fn tag_of(&self, name: HeaderName) -> Result<Option<&'b str>, ParseError> {
        match NameAddr::tag_or_empty(self.single(name)?) {
            None => Err(ParseError::BadHeaderValue(name)),
            Some("") => Ok(None),
            Some(tag) => Ok(Some(tag)),
        }
    }

    /// The Call-ID (§20.8).
    pub fn call_id(&self) -> Result<&'b str, ParseError> {
        headers::call_id(self.single(HeaderName::CallId)?)
            .ok_or(ParseError::BadHeaderValue(HeaderName::CallId))
    }

    /// The CSeq (§20.16).
    pub fn cseq(&self) -> Result<CSeq<'b>, ParseError> {
        CSeq::parse(self.single(HeaderName::CSeq)?)
            .ok_or(ParseError::BadHeaderValue(HeaderName::CSeq))
    }

    /// Max-Forwards (§20.22); `Ok(None)` if absent.
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        self.header(HeaderName::MaxForwards)
            .map(|h| {
                headers::max_forwards(h.value)
                    .ok_or(ParseError::BadHeaderValue(HeaderName::MaxForwards))
            })
            .transpose()
    }

    /// Expires (§20.19); `Ok(None)` if absent.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.header(HeaderName::Expires)
            .map(|h| {
                headers::delta_seconds(h.value)
                    .ok_or(ParseError::BadHeaderValue(HeaderName::Expires))
            })
            .transpose()
    }

    /// Content-Type (§20.15); `Ok(None)` if absent.
    pub fn content_type(&self) -> Result<Option<MediaType<'b>>, ParseError> {
        self.header(HeaderName::ContentType)
            .map(|h| {
                MediaType::parse(h.value).ok_or(ParseError::BadHeaderValue(HeaderName::ContentType))
            })
            .transpose()
    }

    /// Every Contact value (§20.10), parsed.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'b>, ParseError>> + 'h {
        self.list(HeaderName::Contact, Contact::parse_first)
    }

    /// Every Route value (§20.34), top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'b>, ParseError>> + 'h {
        self.list(HeaderName::Route, NameAddr::parse_first)
    }

    /// Every Record-Route value (§20.30), top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'b>, ParseError>> + 'h {
        self.list(HeaderName::RecordRoute, NameAddr::parse_first)
    }

    /// The values of a list header (§7.3.1) across all its lines, each parsed by `first`
    /// from the front of the rest of its line, so the line is not split at commas first.
    /// Yields the same as `self.values(name).map(parse)` with the whole-value parser: empty
    /// elements are skipped, and after a malformed element (an error) the iteration goes on
    /// from the next top-level comma.
    fn list<T, F: Fn(&'b [u8]) -> Option<(T, &'b [u8])>>(
        &self,
        name: HeaderName,
        first: F,
    ) -> impl Iterator<Item = Result<T, ParseError>> + use<'b, 'h, T, F> {
        let mut cursor = ListCursor {
            lines: self.headers.iter(),
            name,
            rest: &[],
        };
        core::iter::from_fn(move || {
            let rest = cursor.element()?;
            Some(match first(rest) {
                Some((value, after)) => {
                    cursor.rest = after;
                    Ok(value)
                }
                None => {
                    cursor.rest = lex::split_first(rest).1;
                    Err(ParseError::BadHeaderValue(name))
                }
            })
        })
    }
}

/// The iterator of [`Message::values`]: one type, and one `next` in the program, for every
/// caller (a `flat_map` would be compiled again for each).
struct Values<'h, 'b> {
    lines: core::slice::Iter<'h, Header<'b>>,
    name: HeaderName,
    list: bool,
    /// The elements left of the current line of a list header.
    split: Option<CommaValues<'b>>,
}

impl<'b> Iterator for Values<'_, 'b> {
    type Item = &'b [u8];

    #[cfg_attr(feature = "small-code", inline(never))]
    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if let Some(split) = self.split.as_mut() {
                match split.next() {
                    Some(v) => return Some(v),
                    None => self.split = None,
                }
            }
            let name = self.name;
            let h = self.lines.find(|h| h.name == name)?;
            if !self.list {
                return Some(h.value);
            }
            self.split = Some(CommaValues::new(h.value));
        }
    }
}

/// Where [`Message::list`] is: the lines of the header left, and the rest of the current one.
struct ListCursor<'h, 'b> {
    lines: core::slice::Iter<'h, Header<'b>>,
    name: HeaderName,
    rest: &'b [u8],
}

impl<'b> ListCursor<'_, 'b> {
    /// Skips white space and empty elements, across lines: the rest of the line from the
    /// next element on, or `None` when no element is left. Not generic, so one copy serves
    /// every element type.
    #[cfg_attr(feature = "small-code", inline(never))]
    fn element(&mut self) -> Option<&'b [u8]> {
        loop {
            let start = self
                .rest
                .iter()
                .position(|&b| b != b',' && !lex::is(b, lex::LWS))
                .unwrap_or(self.rest.len());
            self.rest = self.rest.get(start..).unwrap_or_default();
            if !self.rest.is_empty() {
                return Some(self.rest);
            }
            let name = self.name;
            self.rest = self.lines.find(|h| h.name == name)?.value;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::message::{Parser, Status};
    use proptest::prelude::*;
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    /// From/To/Route/Contact-like values, mostly well formed, with the characters that
    /// matter for finding where the address ends (`"` `<` `>` `;` `,` `\`) in odd places.
    fn name_addr_s() -> impl Strategy<Value = String> {
        concat!(
            "( ?(\"[a-z ,;<>\\\\]{0,5}\"|[a-z]{1,3}( [a-z]{1,3})?|\\*) ?)?",
            "(<sip:[a-z]{1,3}@[a-z]{1,3}(;lr)?>|sip:[a-z]{1,3}(@[a-z]{1,3})?|<sip:a;b>|<a>|sip:a@b?x)",
            " ?(; ?(tag|TAG|x|lr)( ?= ?([a-z0-9]{1,3}|\"[a-z,;]{0,3}\"|))?){0,3} ?[,;>]?"
        )
    }

    /// Any soup of the pieces these values are made of.
    fn soup_s() -> impl Strategy<Value = String> {
        const PIECES: [&str; 22] = [
            "\"",
            "<",
            ">",
            ";",
            ",",
            " ",
            "sip:",
            "a",
            "b@c",
            "tag",
            "=",
            "x",
            "\\",
            "\r\n ",
            "*",
            "lr",
            "SIP/2.0/UDP ",
            "h.example.com",
            ":5060",
            "branch",
            "z9hG4bK",
            "?",
        ];
        proptest::collection::vec(proptest::sample::select(&PIECES[..]), 0..14)
            .prop_map(|v| v.concat())
    }

    fn value_s() -> impl Strategy<Value = String> {
        prop_oneof![name_addr_s(), soup_s()]
    }

    /// Header lines of one to three values, and empty elements.
    fn line_s() -> impl Strategy<Value = String> {
        proptest::collection::vec((value_s(), "(, ?|,,| , |,)"), 1..4).prop_map(|v| {
            let mut line = String::new();
            for (i, (value, sep)) in v.iter().enumerate() {
                if i > 0 {
                    line += sep;
                }
                line += value;
            }
            line
        })
    }

    fn via_s() -> impl Strategy<Value = String> {
        prop_oneof![
            "SIP ?/ ?2\\.0 ?/ ?(UDP|TCP) h(\\.[a-z]{1,3})?(:5060)?( ?; ?(branch|rport|x)( ?= ?[a-z0-9]{1,3}|=\"[a-z,]{0,2}\")?){0,3} ?",
            soup_s(),
        ]
    }

    fn via_line_s() -> impl Strategy<Value = String> {
        proptest::collection::vec((via_s(), "(, ?|,,|,)"), 1..4).prop_map(|v| {
            let mut line = String::new();
            for (i, (value, sep)) in v.iter().enumerate() {
                if i > 0 {
                    line += sep;
                }
                line += value;
            }
            line
        })
    }

    /// Parses a request with the given header lines.
    fn with_request<R>(headers: &str, f: impl FnOnce(&Message<'_, '_>) -> R) -> Option<R> {
        let text = format!("OPTIONS sip:a@b SIP/2.0\r\n{headers}Content-Length: 0\r\n\r\n");
        let mut slots = [Header::EMPTY; 16];
        match Parser::datagram().parse(text.as_bytes(), &mut slots) {
            Ok(Status::Complete(m)) => Some(f(&m)),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn find_tag_agrees_with_the_full_parse(v in value_s()) {
            if let Some(n) = NameAddr::parse(v.as_bytes()) {
                prop_assert_eq!(NameAddr::find_tag(v.as_bytes()), Some(n.tag()), "{:?}", v);
            }
        }

        #[test]
        fn message_tags_agree(from in value_s(), to in value_s()) {
            let headers = format!("From: {from}\r\nTo: {to}\r\n");
            with_request(&headers, |m| {
                if let Ok(n) = m.from() {
                    assert_eq!(m.from_tag(), Ok(n.tag()), "{from:?}");
                }
                if let Ok(n) = m.to() {
                    assert_eq!(m.to_tag(), Ok(n.tag()), "{to:?}");
                }
            });
        }

        #[test]
        fn lists_agree_with_splitting_first(a in line_s(), b in line_s(), v in via_line_s()) {
            let headers = format!("Route: {a}\r\nContact: {b}\r\nRoute: {b}\r\nVia: {v}\r\n");
            with_request(&headers, |m| {
                let got: Vec<_> = m.routes().collect();
                let want: Vec<_> = m
                    .values(HeaderName::Route)
                    .map(|v| NameAddr::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::Route)))
                    .collect();
                assert_eq!(got, want, "{a:?} / {b:?}");
                let got: Vec<_> = m.contacts().collect();
                let want: Vec<_> = m
                    .values(HeaderName::Contact)
                    .map(|v| Contact::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::Contact)))
                    .collect();
                assert_eq!(got, want, "{b:?}");
                let got: Vec<_> = m.vias().collect();
                let want: Vec<_> = m
                    .values(HeaderName::Via)
                    .map(|v| Via::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::Via)))
                    .collect();
                assert_eq!(got, want, "{v:?}");
                // The top Via is the line's first value, parsed whole, before any comma.
                let want = match Via::parse_first(v.as_bytes()) {
                    Some((via, _)) => Ok(Some(via)),
                    None => Err(ParseError::BadHeaderValue(HeaderName::Via)),
                };
                assert_eq!(m.top_via(), want, "{v:?}");
            });
        }
    }

    #[test]
    fn light_tags() {
        for (value, tag) in [
            (&b"\"A;b>c, <d>\" <sip:a@b>;tag=1"[..], Some(Some("1"))),
            (b"sip:a@b;tag=2", Some(Some("2"))),
            (b"sip:a@b ; x ; TAG = 3", Some(Some("3"))),
            (b"Bob <sip:a@b;tag=no>", Some(None)),
            (b"<sip:a@b>;tag", Some(None)),
            (b"<sip:a@b>;tag=\"q\"", Some(Some("\"q\""))),
            (b"\"unterminated <sip:a@b>;tag=1", None),
            (b"<sip:a@b;tag=1", None),
            (b"<sip:a@b>;tag=1 junk", None),
            (b"<sip:a@b>;;tag=1", None),
            (b"\"a\" sip:a@b;tag=1", None),
        ] {
            assert_eq!(
                NameAddr::find_tag(value),
                tag,
                "{:?}",
                core::str::from_utf8(value)
            );
        }
        let m = with_request("From: <sip:a@b>;tag=f\r\nTo: <sip:c@d\r\n", |m| {
            (m.from_tag().map(|t| t == Some("f")), m.to_tag().err())
        });
        assert_eq!(
            m,
            Some((Ok(true), Some(ParseError::BadHeaderValue(HeaderName::To))))
        );
        let m = with_request("", |m| m.from_tag().err());
        assert_eq!(m, Some(Some(ParseError::MissingHeader(HeaderName::From))));
    }
}
