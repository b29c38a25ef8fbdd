//! What a malformed or unacceptable message must produce (RFC 3261 §8.2, §16.3, §18.1.2,
//! §18.2.1; RFC 4475).
//!
//! Two layers, in the order a server applies them:
//!
//! 1. [`request`] and [`response`]: syntax. A request that fails is answered with the
//!    [`Rejection`]'s status (400, 505); a response that fails is dropped (§18.1.2).
//! 2. [`Policy::check`]: what this element accepts — methods (405), URI schemes (416),
//!    extensions (420), body types (415), and for a proxy Max-Forwards (483) and
//!    Proxy-Require (420).
//!
//! [`Rejection::write`] builds the answer with the headers each status requires (Allow,
//! Unsupported, Accept).

use super::builder::{ResponseError, ResponseParts};
use super::error::ParseError;
use super::header::{Header, HeaderName};
use super::headers::{self, Contact, MediaRange, Tokens};
use super::lex;
use super::parser::{Message, Version};
use super::uri::Scheme;
use super::writer::Writer;

/// Why a request is refused, and with which status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The status code to answer with.
    pub code: u16,
    /// A reason phrase naming the problem (for a 400, "Bad Request" without feature
    /// `detailed-reasons`).
    pub reason: &'static str,
    /// The header at fault, if one is.
    pub header: Option<HeaderName>,
}

impl Rejection {
    /// Without feature `detailed-reasons` a 400's `reason` is "Bad Request" (§21.4.1), not
    /// the phrase naming the problem.
    pub(crate) const fn new(code: u16, reason: &'static str, header: Option<HeaderName>) -> Self {
        let reason = if code == 400 && !cfg!(feature = "detailed-reasons") {
            "Bad Request"
        } else {
            reason
        };
        Rejection {
            code,
            reason,
            header,
        }
    }

    fn bad(e: ParseError) -> Self {
        let header = match e {
            ParseError::BadHeaderValue(h) | ParseError::MissingHeader(h) => Some(h),
            _ => None,
        };
        Rejection::new(e.status_code().unwrap_or(400), e.reason(), header)
    }

    /// Writes the response to `request` for this rejection, with the headers its status
    /// requires: Allow for 405 (§8.2.1), Unsupported listing the unknown option tags for 420
    /// (§8.2.2.3), Accept for 415 (§8.2.3).
    ///
    /// Pass [`Message::headers`], or [`Head::headers`](super::Head::headers) for a request
    /// that failed to parse.
    pub fn write<'o>(
        &self,
        request: &[Header<'_>],
        policy: &Policy<'_>,
        to_tag: Option<&str>,
        buf: &'o mut [u8],
    ) -> Result<&'o [u8], ResponseError> {
        // The value of the extra header is composed on the stack first; no allocation.
        let mut scratch = [0u8; 512];
        let mut w = Writer::new(&mut scratch);
        let mut extra_name = "";
        match self.code {
            405 => {
                extra_name = "Allow";
                join(&mut w, &mut policy.methods.iter().copied())?;
            }
            415 => {
                extra_name = "Accept";
                join(&mut w, &mut policy.accept.iter().copied())?;
            }
            420 => {
                extra_name = "Unsupported";
                let name = match self.header {
                    Some(HeaderName::ProxyRequire) => HeaderName::ProxyRequire,
                    _ => HeaderName::Require,
                };
                let mut unknown = request
                    .iter()
                    .filter(|h| h.name == name)
                    .flat_map(|h| Tokens::new(h.value))
                    .filter(|t| !policy.supported.contains(t));
                join(&mut w, &mut unknown)?;
            }
            _ => {}
        }
        let value = w.finish();
        let extra = [(extra_name, value)];
        let parts = ResponseParts {
            code: self.code,
            reason: self.reason,
            to_tag,
            extra: if extra_name.is_empty() { &[] } else { &extra },
            content_type: None,
            body: b"",
        };
        parts.write(request, buf)
    }
}

/// Writes `items` separated by `", "` (a header's comma-separated list, §7.3.1). Takes a
/// `dyn Iterator`: one copy in the program for every caller's iterator type.
pub(crate) fn join(
    w: &mut Writer<'_>,
    items: &mut dyn Iterator<Item = &str>,
) -> Result<(), super::writer::WriteError> {
    for (i, item) in items.enumerate() {
        if i > 0 {
            w.put(b", ")?;
        }
        w.put(item.as_bytes())?;
    }
    Ok(())
}

/// The syntax checks on a received request (§8.2, §16.3 item 1; RFC 4475 §3.1.2, §3.3.8):
/// version, mandatory headers (To, From, CSeq, Call-ID, Via — Max-Forwards may be absent, as
/// in RFC 2543 requests, §16.3 item 3), single-valued headers given once, every header the
/// stack reads well formed, and the CSeq method equal to the request method.
pub fn request(msg: &Message<'_, '_>) -> Result<(), Rejection> {
    let Some(method) = msg.method() else {
        return Err(Rejection::new(400, "Not A Request", None));
    };
    // §7.1, §21.5.15: a version other than 2.0 is answered 505.
    if msg.version() != Version::SIP_2_0 {
        return Err(Rejection::new(505, "Version Not Supported", None));
    }
    // §19.1.1 (table 1): headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    if msg.request_uri().is_some_and(|u| u.headers().is_some()) {
        return Err(Rejection::new(
            400,
            "Headers Not Allowed In Request-URI",
            None,
        ));
    }
    check_common(msg)?;
    // RFC 4475 §3.1.2.17 / §3.1.2.18: the CSeq method must match the request method.
    let cseq = msg.cseq().map_err(Rejection::bad)?;
    if cseq.method != method {
        return Err(Rejection::new(
            400,
            "CSeq Method Mismatch",
            Some(HeaderName::CSeq),
        ));
    }
    for c in msg.contacts() {
        // An expires parameter must be a valid delta-seconds (RFC 4475 §3.1.2.4).
        if let Contact::Addr(a) = c.map_err(Rejection::bad)? {
            if a.params.get("expires").is_some() && a.expires().is_none() {
                return Err(Rejection::new(
                    400,
                    "Malformed Contact",
                    Some(HeaderName::Contact),
                ));
            }
        }
    }
    msg.expires().map_err(Rejection::bad)?;
    Ok(())
}

/// The syntax checks on a received response (§18.1.2): a response that fails any of these
/// must be dropped silently, never answered. Checks the status code range, the top Via, and
/// the headers matching reads (From, To, Call-ID, CSeq), and scalar ranges (RFC 4475
/// §3.1.2.5, §3.1.2.19).
pub fn response(msg: &Message<'_, '_>) -> Result<(), Rejection> {
    match msg.status() {
        Some(100..=699) => {}
        _ => return Err(Rejection::new(400, "Bad Status Code", None)),
    }
    if msg.version() != Version::SIP_2_0 {
        return Err(Rejection::new(505, "Version Not Supported", None));
    }
    check_common(msg)?;
    msg.cseq().map_err(Rejection::bad)?;
    for c in msg.contacts() {
        c.map_err(Rejection::bad)?;
    }
    if let Some(h) = msg.header(HeaderName::RetryAfter) {
        headers::RetryAfter::parse(h.value).ok_or(Rejection::new(
            400,
            "Malformed Retry-After",
            Some(HeaderName::RetryAfter),
        ))?;
    }
    Ok(())
}

/// Checks shared by requests and responses.
fn check_common(msg: &Message<'_, '_>) -> Result<(), Rejection> {
    // §8.1.1: To, From, CSeq, Call-ID and Via are mandatory. (Lists as static slices: a
    // plain loop, not an array iterator, in the code.)
    for &name in &[
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        if msg.header(name).is_none() {
            return Err(Rejection::bad(ParseError::MissingHeader(name)));
        }
    }
    // §7.3.1, RFC 4475 §3.3.8: a single-valued header given twice, or with a list.
    for &name in &[
        HeaderName::To,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::MaxForwards,
        HeaderName::ContentLength,
        HeaderName::ContentType,
        HeaderName::Expires,
        HeaderName::MinExpires,
    ] {
        if msg.headers_named(name).nth(1).is_some() {
            return Err(Rejection::new(400, multiple_reason(name), Some(name)));
        }
    }
    msg.from().map_err(Rejection::bad)?;
    msg.to().map_err(Rejection::bad)?;
    msg.call_id().map_err(Rejection::bad)?;
    msg.max_forwards().map_err(Rejection::bad)?;
    msg.content_type().map_err(Rejection::bad)?;
    for v in msg.vias() {
        v.map_err(Rejection::bad)?;
    }
    for r in msg.routes().chain(msg.record_routes()) {
        r.map_err(Rejection::bad)?;
    }
    Ok(())
}

fn multiple_reason(name: HeaderName) -> &'static str {
    let i = match name {
        HeaderName::To => 0,
        HeaderName::From => 1,
        HeaderName::CallId => 2,
        HeaderName::CSeq => 3,
        HeaderName::MaxForwards => 4,
        HeaderName::ContentLength => 5,
        HeaderName::ContentType => 6,
        _ => 7,
    };
    // One string and an index: smaller than a `match` of string constants.
    crate::bytes::nth_phrase(
        "Multiple To|Multiple From|Multiple Call-ID|Multiple CSeq|Multiple Max-Forwards|\
         Multiple Content-Length|Multiple Content-Type|Multiple Values In Single-Valued Header",
        i,
    )
}

/// Which kind of element applies a [`Policy`]: a proxy checks Max-Forwards and
/// Proxy-Require and leaves Require, methods and bodies to the UAS (§16.3); a UAS checks
/// those (§8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A user agent server, registrar or redirect server (§8.2).
    Uas,
    /// A proxy (§16.3).
    Proxy,
}

/// What an element accepts.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// Proxy or UAS.
    pub role: Role,
    /// Methods the UAS implements (answered 405 otherwise, with these in Allow).
    pub methods: &'a [&'a str],
    /// URI schemes it can route or serve (416 otherwise, §8.2.2.1).
    pub schemes: &'a [Scheme],
    /// Option tags it supports (Require / Proxy-Require otherwise answered 420).
    pub supported: &'a [&'a str],
    /// Body types it accepts, `type/subtype` (415 otherwise, §8.2.3).
    pub accept: &'a [&'a str],
}

impl Policy<'static> {
    /// A UAS that implements the RFC 3261 methods, sip and sips URIs, no extensions, and
    /// SDP bodies.
    pub const UAS: Policy<'static> = Policy {
        role: Role::Uas,
        methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"],
        schemes: &[Scheme::Sip, Scheme::Sips],
        supported: &[],
        accept: &["application/sdp"],
    };

    /// A proxy routing sip, sips and tel URIs with no extensions.
    pub const PROXY: Policy<'static> = Policy {
        role: Role::Proxy,
        methods: &[],
        schemes: &[Scheme::Sip, Scheme::Sips, Scheme::Tel],
        supported: &[],
        accept: &[],
    };
}

impl Policy<'_> {
    /// Applies the policy to a request that passed [`request`], in the order of §8.2 (UAS:
    /// method, URI scheme, Require, body) or §16.3 (proxy: URI scheme, Max-Forwards,
    /// Proxy-Require).
    pub fn check(&self, msg: &Message<'_, '_>) -> Result<(), Rejection> {
        let method = msg.method().unwrap_or("");
        let scheme_ok = msg
            .request_uri()
            .is_some_and(|u| self.schemes.contains(&u.scheme()));
        match self.role {
            Role::Uas => {
                // §8.2.1: ACK is never answered, so it is never refused.
                if method != "ACK" && !self.methods.contains(&method) {
                    return Err(Rejection::new(405, "Method Not Allowed", None));
                }
                if !scheme_ok {
                    return Err(Rejection::new(416, "Unsupported URI Scheme", None));
                }
                // §8.2.2.3: not for ACK and CANCEL.
                if method != "ACK"
                    && method != "CANCEL"
                    && self.unknown_tag(msg, HeaderName::Require)
                {
                    return Err(Rejection::new(
                        420,
                        "Bad Extension",
                        Some(HeaderName::Require),
                    ));
                }
                self.check_body(msg)
            }
            Role::Proxy => {
                if !scheme_ok {
                    return Err(Rejection::new(416, "Unsupported URI Scheme", None));
                }
                // §16.3 item 3.
                if msg.max_forwards().ok().flatten() == Some(0) {
                    return Err(Rejection::new(
                        483,
                        "Too Many Hops",
                        Some(HeaderName::MaxForwards),
                    ));
                }
                if self.unknown_tag(msg, HeaderName::ProxyRequire) {
                    return Err(Rejection::new(
                        420,
                        "Bad Extension",
                        Some(HeaderName::ProxyRequire),
                    ));
                }
                Ok(())
            }
        }
    }

    fn unknown_tag(&self, msg: &Message<'_, '_>, name: HeaderName) -> bool {
        msg.values(name)
            .flat_map(Tokens::new)
            .any(|t| !self.supported.contains(&t))
    }

    /// §8.2.3: the body's type must be one we accept (415), and the types the request says
    /// it accepts for the answer must include one we could send (RFC 4475 §3.3.15).
    fn check_body(&self, msg: &Message<'_, '_>) -> Result<(), Rejection> {
        let accepted = |ty: &str, sub: &str| {
            self.accept
                .iter()
                .any(|a| match lex::split_once_byte(a, b'/') {
                    Some((t, s)) => t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(sub),
                    None => false,
                })
        };
        if !msg.body().is_empty() {
            match msg.content_type() {
                Ok(Some(t)) if accepted(t.ty, t.subtype) => {}
                Ok(_) | Err(_) => {
                    return Err(Rejection::new(
                        415,
                        "Unsupported Media Type",
                        Some(HeaderName::ContentType),
                    ))
                }
            }
        }
        // An INVITE's answer carries our session description: the Accept it sent must
        // allow one of our types, or we could not answer it.
        if msg.method() == Some("INVITE") && msg.header(HeaderName::Accept).is_some() {
            let ok = msg
                .values(HeaderName::Accept)
                .filter_map(MediaRange::parse)
                .any(|r| {
                    self.accept
                        .iter()
                        .filter_map(|a| lex::split_once_byte(a, b'/'))
                        .any(|(t, s)| r.matches(t, s))
                });
            if !ok {
                return Err(Rejection::new(
                    415,
                    "Unsupported Media Type",
                    Some(HeaderName::Accept),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Header, Parser};

    fn parse_and<R>(bytes: &[u8], f: impl FnOnce(&Message<'_, '_>) -> R) -> R {
        let mut slots = [Header::EMPTY; 32];
        let m = Parser::datagram()
            .parse(bytes, &mut slots)
            .unwrap()
            .complete()
            .unwrap();
        f(&m)
    }

    const BASE: &[u8] = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 0\r\nTo: <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\n\
Require: foo, bar\r\nProxy-Require: baz\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn policy_answers() {
        parse_and(BASE, |m| {
            assert_eq!(request(m), Ok(()));
            let r = Policy::UAS.check(m).unwrap_err();
            assert_eq!(r.code, 420);
            let mut buf = [0u8; 1024];
            let out = r
                .write(m.headers(), &Policy::UAS, Some("as83kd"), &mut buf)
                .unwrap();
            let text = core::str::from_utf8(out).unwrap();
            assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"), "{text}");
            assert!(text.contains("\r\nUnsupported: foo, bar\r\n"), "{text}");
            assert!(
                text.contains("To: <sip:bob@biloxi.example.com>;tag=as83kd\r\n"),
                "{text}"
            );
            assert_eq!(Policy::PROXY.check(m).unwrap_err().code, 483);
            let tolerant = Policy {
                supported: &["foo", "bar"],
                ..Policy::UAS
            };
            assert_eq!(tolerant.check(m), Ok(()));
        });
    }
}
