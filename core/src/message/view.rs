//! Accessors on a parsed [`Message`]: the start line, header lookup, and typed views of the
//! headers every layer reads. Each typed accessor parses on demand.

use super::error::ParseError;
use super::header::{Header, HeaderName};
use super::headers::{self, CSeq, Contact, MediaType, NameAddr, Via};
use super::lex::CommaValues;
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
        let list = name.is_list();
        self.headers_named(name).flat_map(move |h| {
            let mut single = Some(h.value);
            let mut split = list.then(|| CommaValues::new(h.value));
            core::iter::from_fn(move || match &mut split {
                Some(s) => s.next(),
                None => single.take(),
            })
        })
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
            Some(h) => Via::parse_first(h.value)
                .map(|(via, _)| Some(via))
                .ok_or(ParseError::BadHeaderValue(HeaderName::Via)),
        }
    }

    /// Every Via value, top first, each parsed.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'b>, ParseError>> + 'h {
        self.values(HeaderName::Via)
            .map(|v| Via::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::Via)))
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
        self.values(HeaderName::Contact)
            .map(|v| Contact::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::Contact)))
    }

    /// Every Route value (§20.34), top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'b>, ParseError>> + 'h {
        self.values(HeaderName::Route)
            .map(|v| NameAddr::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::Route)))
    }

    /// Every Record-Route value (§20.30), top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'b>, ParseError>> + 'h {
        self.values(HeaderName::RecordRoute)
            .map(|v| NameAddr::parse(v).ok_or(ParseError::BadHeaderValue(HeaderName::RecordRoute)))
    }
}
