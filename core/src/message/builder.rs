//! Building requests (§8.1.1) and responses (§8.2.6) into a caller buffer.

use super::error::ParseError;
use super::header::{Header, HeaderName};
use super::headers::NameAddr;
use super::lex::CommaValues;
use super::writer::{write_header, WriteError, Writer};

/// The parts of a new request outside a dialog, as §8.1.1 lists them. Everything borrowed;
/// [`RequestParts::write`] emits the message without allocating.
///
/// ```
/// use sipwire_core::message::builder::{Address, RequestParts, SentBy};
/// let mut buf = [0u8; 1024];
/// let req = RequestParts {
///     method: "INVITE",
///     request_uri: "sip:bob@biloxi.com",
///     via: SentBy { transport: "UDP", host: "pc33.atlanta.com", port: None, branch: "z9hG4bK776asdhds", rport: true },
///     max_forwards: 70,
///     to: Address { display: Some("Bob"), uri: "sip:bob@biloxi.com", tag: None },
///     from: Address { display: Some("Alice"), uri: "sip:alice@atlanta.com", tag: Some("1928301774") },
///     call_id: "a84b4c76e66710@pc33.atlanta.com",
///     cseq: 314159,
///     contact: Some("sip:alice@pc33.atlanta.com"),
///     route: &[],
///     extra: &[],
///     content_type: None,
///     body: b"",
/// };
/// let bytes = req.write(&mut buf)?;
/// assert!(bytes.starts_with(b"INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds;rport\r\n"));
/// # Ok::<(), sipwire_core::message::WriteError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// The method.
    pub method: &'a str,
    /// The Request-URI (§8.1.1.1).
    pub request_uri: &'a str,
    /// The Via this element adds (§8.1.1.7).
    pub via: SentBy<'a>,
    /// Max-Forwards, normally 70 (§8.1.1.6).
    pub max_forwards: u8,
    /// To (§8.1.1.2).
    pub to: Address<'a>,
    /// From, with the tag (§8.1.1.3).
    pub from: Address<'a>,
    /// Call-ID (§8.1.1.4).
    pub call_id: &'a str,
    /// The CSeq number; the method is [`RequestParts::method`] (§8.1.1.5).
    pub cseq: u32,
    /// The Contact URI (§8.1.1.8), written in angle brackets.
    pub contact: Option<&'a str>,
    /// Route values in order, each written as `<uri>` (§8.1.2).
    pub route: &'a [&'a str],
    /// Any other headers, written as given.
    pub extra: &'a [(&'a str, &'a [u8])],
    /// Content-Type of the body, if any.
    pub content_type: Option<&'a str>,
    /// The body; Content-Length is computed from it.
    pub body: &'a [u8],
}

/// The sent-by of a Via this element writes.
#[derive(Clone, Copy, Debug)]
pub struct SentBy<'a> {
    /// `UDP`, `TCP`, `TLS` ...
    pub transport: &'a str,
    /// Host name or address (an IPv6 address in brackets).
    pub host: &'a str,
    /// Port, if not the default.
    pub port: Option<u16>,
    /// The branch, starting with `z9hG4bK` (§8.1.1.7).
    pub branch: &'a str,
    /// Whether to ask for `rport` (RFC 3581).
    pub rport: bool,
}

impl SentBy<'static> {
    /// The Via of a request handed to the endpoint, which writes the real one (sent-by,
    /// branch, rport) when it sends (§8.1.1.7, §18.1.1).
    pub const FILLED_BY_ENDPOINT: SentBy<'static> = SentBy {
        transport: "UDP",
        host: "",
        port: None,
        branch: "",
        rport: false,
    };
}

/// A display name, URI and tag for From or To.
#[derive(Clone, Copy, Debug)]
pub struct Address<'a> {
    /// Display name, written as a quoted string.
    pub display: Option<&'a str>,
    /// The URI, written in angle brackets.
    pub uri: &'a str,
    /// The tag parameter.
    pub tag: Option<&'a str>,
}

impl Address<'_> {
    fn write(&self, w: &mut Writer<'_>, name: &str) -> Result<(), WriteError> {
        w.put(name.as_bytes())?;
        w.put(b": ")?;
        if let Some(d) = self.display {
            w.put(b"\"")?;
            for &b in d.as_bytes() {
                if b == b'"' || b == b'\\' {
                    w.put(b"\\")?;
                }
                w.put(&[b])?;
            }
            w.put(b"\" ")?;
        }
        w.put(b"<")?;
        w.put(self.uri.as_bytes())?;
        w.put(b">")?;
        if let Some(t) = self.tag {
            w.put(b";tag=")?;
            w.put(t.as_bytes())?;
        }
        w.put(b"\r\n")
    }
}

impl SentBy<'_> {
    fn write(&self, w: &mut Writer<'_>) -> Result<(), WriteError> {
        w.put(b"Via: SIP/2.0/")?;
        w.put(self.transport.as_bytes())?;
        w.put(b" ")?;
        w.put(self.host.as_bytes())?;
        if let Some(p) = self.port {
            w.put(b":")?;
            w.put_u32(u32::from(p))?;
        }
        w.put(b";branch=")?;
        w.put(self.branch.as_bytes())?;
        if self.rport {
            w.put(b";rport")?;
        }
        w.put(b"\r\n")
    }
}

impl RequestParts<'_> {
    /// Writes the request into `buf`, returning the bytes written.
    pub fn write<'o>(&self, buf: &'o mut [u8]) -> Result<&'o [u8], WriteError> {
        let mut w = Writer::new(buf);
        w.request_line(self.method, self.request_uri)?;
        self.via.write(&mut w)?;
        w.put(b"Max-Forwards: ")?;
        w.put_u32(u32::from(self.max_forwards))?;
        w.put(b"\r\n")?;
        for r in self.route {
            w.put(b"Route: <")?;
            w.put(r.as_bytes())?;
            w.put(b">\r\n")?;
        }
        self.to.write(&mut w, "To")?;
        self.from.write(&mut w, "From")?;
        w.header("Call-ID", self.call_id.as_bytes())?;
        w.put(b"CSeq: ")?;
        w.put_u32(self.cseq)?;
        w.put(b" ")?;
        w.put(self.method.as_bytes())?;
        w.put(b"\r\n")?;
        if let Some(c) = self.contact {
            w.put(b"Contact: <")?;
            w.put(c.as_bytes())?;
            w.put(b">\r\n")?;
        }
        for (name, value) in self.extra {
            w.header(name, value)?;
        }
        if let Some(ct) = self.content_type {
            w.header("Content-Type", ct.as_bytes())?;
        }
        w.body(self.body)?;
        Ok(w.finish())
    }
}

/// Why a response could not be built.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseError {
    /// A header the response must copy is absent or malformed.
    Request(ParseError),
    /// The output buffer is too small.
    Write(WriteError),
}

impl From<WriteError> for ResponseError {
    fn from(e: WriteError) -> Self {
        ResponseError::Write(e)
    }
}

impl core::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResponseError::Request(e) => write!(f, "cannot answer this request: {e}"),
            ResponseError::Write(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for ResponseError {}

/// Writes the topmost Via value of a response, given the value as received.
pub type TopViaWriter<'f> = dyn FnMut(&mut Writer<'_>, &[u8]) -> Result<(), WriteError> + 'f;

/// A response to a received request, built per §8.2.6.
#[derive(Clone, Copy, Debug)]
pub struct ResponseParts<'a> {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: &'a str,
    /// The To tag to add when the request's To has none (§8.2.6.2: required for every
    /// response but 100).
    pub to_tag: Option<&'a str>,
    /// Other headers (Contact, Allow, Unsupported, Retry-After ...), written as given.
    pub extra: &'a [(&'a str, &'a [u8])],
    /// Content-Type of the body, if any.
    pub content_type: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> ResponseParts<'a> {
    /// A response with a code and reason and nothing else.
    pub const fn new(code: u16, reason: &'a str) -> Self {
        ResponseParts {
            code,
            reason,
            to_tag: None,
            extra: &[],
            content_type: None,
            body: b"",
        }
    }

    /// Writes the response to `request` into `buf` (§8.2.6.2): every Via in order, From,
    /// Call-ID and CSeq copied as received, To copied with `to_tag` added when it has no tag
    /// and the response is not 100, Timestamp copied into a 100 (§8.2.6.1).
    ///
    /// Only the headers copied are read, so this works on a request whose other headers are
    /// malformed, as answering 400 needs.
    ///
    /// Pass [`Message::headers`](super::Message::headers), or for a request that failed to
    /// parse, [`Head::headers`](super::Head::headers).
    pub fn write<'o>(
        &self,
        request: &[Header<'_>],
        buf: &'o mut [u8],
    ) -> Result<&'o [u8], ResponseError> {
        self.write_with_top_via(request, buf, &mut |w, v| w.put(v))
    }

    /// Like [`write`](Self::write), but the topmost Via value is written by `top_via` (given
    /// the value as received), so a server can add `received` and `rport` (§18.2.1).
    pub fn write_with_top_via<'o>(
        &self,
        request: &[Header<'_>],
        buf: &'o mut [u8],
        top_via: &mut TopViaWriter<'_>,
    ) -> Result<&'o [u8], ResponseError> {
        let mut w = Writer::new(buf);
        w.status_line(self.code, self.reason.as_bytes())?;
        // Via first, in order (§8.2.6.2; §7.3.1 recommends Via near the top so proxies
        // find it fast), then the other copied headers in the request's order.
        let mut first = true;
        for h in request.iter().filter(|h| h.name == HeaderName::Via) {
            if first {
                first = false;
                w.put(h.raw_name)?;
                w.put(b": ")?;
                for (i, v) in CommaValues::new(h.value).enumerate() {
                    if i == 0 {
                        top_via(&mut w, v)?;
                    } else {
                        w.put(b", ")?;
                        w.put(v)?;
                    }
                }
                w.put(b"\r\n")?;
            } else {
                write_header(&mut w, h)?;
            }
        }
        for h in request {
            match h.name {
                HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    write_header(&mut w, h)?
                }
                // §12.1.1: a UAS copies Record-Route into the responses that can create a
                // dialog (101–299), so the UAC learns the route set.
                HeaderName::RecordRoute if (101..300).contains(&self.code) => {
                    write_header(&mut w, h)?
                }
                HeaderName::Timestamp if self.code == 100 => write_header(&mut w, h)?,
                HeaderName::To => {
                    write_header(&mut w, h)?;
                    if self.code != 100 {
                        if let Some(tag) = self.to_tag {
                            // Adding a tag needs the To to parse; an unparsable To is sent
                            // back as it came.
                            let has_tag =
                                NameAddr::parse(h.value).is_none_or(|t| t.tag().is_some());
                            if !has_tag {
                                // Undo the CRLF and append the tag.
                                w.truncate_crlf();
                                w.put(b";tag=")?;
                                w.put(tag.as_bytes())?;
                                w.put(b"\r\n")?;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        for (name, value) in self.extra {
            w.header(name, value)?;
        }
        if let Some(ct) = self.content_type {
            w.header("Content-Type", ct.as_bytes())?;
        }
        w.body(self.body)?;
        Ok(w.finish())
    }
}
