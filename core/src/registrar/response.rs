//! The answer a registrar or redirect server decides on: a status, a reason and the header
//! fields that status needs, with the values written into a caller buffer. An endpoint TU
//! turns it into [`ResponseParts`] and sends it with
//! [`Endpoint::respond`](crate::endpoint::Endpoint::respond).

use core::fmt;

use crate::message::builder::ResponseParts;
use crate::message::{WriteError, Writer};
use crate::time::Instant;

use super::location::Binding;

/// The most header fields a [`ServerResponse`] carries: the one its status needs (Contact,
/// Min-Expires, Retry-After, Unsupported, WWW-Authenticate or Allow) and room for the TU's
/// own (Date, Server ...) through [`ServerResponse::push_header`].
pub const MAX_RESPONSE_HEADERS: usize = 4;

/// What the server did with a request.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A REGISTER succeeded (200): the address-of-record now has this many bindings, all
    /// listed in the Contact header field (§10.3 step 8).
    Registered {
        /// Bindings listed.
        bindings: usize,
    },
    /// A request was redirected (300 or 302) to this many contacts (§8.3).
    Redirected {
        /// Contacts listed.
        targets: usize,
    },
    /// A CANCEL was answered 200 (§8.3: a redirect server "SHOULD return a 2xx"; §9.2 for
    /// a registrar, whose REGISTER transactions end at once). The TU answers 481 instead
    /// when the CANCEL matched no transaction.
    CancelAccepted,
    /// The Request-URI names a domain this server does not serve (§10.3 step 1). The
    /// response is a 404; a server that is also a proxy forwards the request instead (§16).
    NotForUs,
    /// The request was refused with the response's status.
    Refused(Refusal),
}

/// Why a request was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed (400) or of another SIP version (505), per
    /// [`validate::request`](crate::message::validate::request).
    Malformed,
    /// A method the server does not handle (405, with Allow).
    MethodNotAllowed,
    /// A Request-URI that is not a SIP or SIPS URI (416, §8.2.2.1).
    UnsupportedScheme,
    /// Require names an extension the server does not support (420, with Unsupported;
    /// §10.3 step 2, §8.2.2.3).
    BadExtension,
    /// The [`Authorizer`](super::Authorizer) challenged the request (401, with
    /// WWW-Authenticate; §10.3 step 3, §22).
    Unauthorized,
    /// The [`Authorizer`](super::Authorizer) refused the request, or its user may not modify
    /// this address-of-record (403; §10.3 steps 3 and 4).
    Forbidden,
    /// The address-of-record is not valid for the domain of the Request-URI (404; §10.3
    /// step 5).
    NotFound,
    /// `Contact: *` with other contacts, or without `Expires: 0` (400; §10.3 step 6).
    InvalidWildcard,
    /// A requested interval below the minimum (423, with Min-Expires; §10.3 step 7).
    IntervalTooBrief,
    /// A binding with the request's Call-ID has an equal or higher CSeq: the request is out
    /// of order and is aborted (500; §10.3 steps 6 and 7).
    OutOfOrder,
    /// More contacts in one REGISTER than [`MAX_CONTACTS`](super::MAX_CONTACTS) (500).
    TooManyContacts,
    /// The location service is full (503, with Retry-After).
    Full,
    /// A binding is longer than the location service can hold, or the service failed
    /// otherwise (500; §10.3 step 7: "the request MUST fail with a 500").
    Storage,
    /// No binding for the Request-URI (404 or 480, see
    /// [`RedirectConfig::no_binding`](crate::redirect::RedirectConfig::no_binding)).
    NoBinding,
}

/// Why the server could not decide on a response.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerError {
    /// The output buffer is too small for the response's header values (for a registrar, the
    /// Contact list of every binding). Nothing was changed; the TU answers 500 itself.
    OutputTooSmall,
    /// The request is an ACK, which is never answered (§17.2.1).
    NoResponse,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerError::OutputTooSmall => "output buffer too small for the response",
            ServerError::NoResponse => "an ACK is never answered",
        })
    }
}

impl core::error::Error for ServerError {}

impl From<WriteError> for ServerError {
    fn from(_: WriteError) -> Self {
        ServerError::OutputTooSmall
    }
}

/// A response decided by a registrar or redirect server: status, reason, and header fields
/// whose values borrow the caller's output buffer. No To tag is chosen here: pass one to
/// [`ServerResponse::parts`] (§8.2.6.2).
#[derive(Clone, Copy, Debug)]
pub struct ServerResponse<'o> {
    /// The status code.
    pub code: u16,
    /// The reason phrase.
    pub reason: &'static str,
    /// What was done.
    pub outcome: Outcome,
    headers: [(&'o str, &'o [u8]); MAX_RESPONSE_HEADERS],
    len: usize,
}

impl<'o> ServerResponse<'o> {
    /// A response without header fields.
    pub(crate) const fn new(code: u16, reason: &'static str, outcome: Outcome) -> Self {
        ServerResponse {
            code,
            reason,
            outcome,
            headers: [("", b""); MAX_RESPONSE_HEADERS],
            len: 0,
        }
    }

    /// A refusal without header fields.
    pub(crate) const fn refuse(code: u16, reason: &'static str, why: Refusal) -> Self {
        Self::new(code, reason, Outcome::Refused(why))
    }

    /// The same response with one more header field.
    pub(crate) fn with(mut self, name: &'o str, value: &'o [u8]) -> Result<Self, ServerError> {
        self.push_header(name, value)?;
        Ok(self)
    }

    /// The header fields to add to the response, in order.
    pub fn headers(&self) -> &[(&'o str, &'o [u8])] {
        self.headers.get(..self.len).unwrap_or_default()
    }

    /// The value of the first header field called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'o [u8]> {
        self.headers()
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    /// Adds a header field of the TU's own, such as Date (§10.3 step 8: a 200 "SHOULD
    /// include a Date header field"; the core has no calendar clock). Fails when
    /// [`MAX_RESPONSE_HEADERS`] are already there.
    pub fn push_header(&mut self, name: &'o str, value: &'o [u8]) -> Result<(), ServerError> {
        let slot = self
            .headers
            .get_mut(self.len)
            .ok_or(ServerError::OutputTooSmall)?;
        *slot = (name, value);
        self.len += 1;
        Ok(())
    }

    /// The response as [`ResponseParts`], for
    /// [`Endpoint::respond`](crate::endpoint::Endpoint::respond), with `to_tag` as the To
    /// tag (§8.2.6.2).
    pub fn parts<'a>(&'a self, to_tag: Option<&'a str>) -> ResponseParts<'a> {
        ResponseParts {
            to_tag,
            extra: self.headers(),
            ..ResponseParts::new(self.code, self.reason)
        }
    }
}

/// The caller's output buffer, handed out one header value at a time.
pub(crate) struct Out<'o> {
    rest: &'o mut [u8],
}

impl<'o> Out<'o> {
    pub(crate) fn new(buf: &'o mut [u8]) -> Self {
        Out { rest: buf }
    }

    /// Writes into the free part of the buffer without keeping it; returns the length.
    /// [`Out::take`] keeps it.
    pub(crate) fn draft(
        &mut self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<(), WriteError>,
    ) -> Result<usize, ServerError> {
        let mut w = Writer::new(&mut *self.rest);
        f(&mut w)?;
        Ok(w.len())
    }

    /// Keeps the first `len` bytes of the free part (written by [`Out::draft`]).
    pub(crate) fn take(&mut self, len: usize) -> Result<&'o [u8], ServerError> {
        let rest = core::mem::take(&mut self.rest);
        let (value, rest) = rest
            .split_at_mut_checked(len)
            .ok_or(ServerError::OutputTooSmall)?;
        self.rest = rest;
        Ok(value)
    }

    /// Writes a value and keeps it.
    pub(crate) fn value(
        &mut self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<(), WriteError>,
    ) -> Result<&'o [u8], ServerError> {
        let len = self.draft(f)?;
        self.take(len)
    }
}

/// Writes a `qvalue` (§20.10) from thousandths: `1`, `0`, `0.5`, `0.125`.
pub(crate) fn write_q(w: &mut Writer<'_>, q: u16) -> Result<(), WriteError> {
    match q {
        0 => w.put(b"0"),
        1000.. => w.put(b"1"),
        q => {
            let digits = [
                b'0' + (q / 100) as u8,
                b'0' + (q / 10 % 10) as u8,
                b'0' + (q % 10) as u8,
            ];
            let used = if q % 10 != 0 {
                3
            } else if q % 100 != 0 {
                2
            } else {
                1
            };
            w.put(b"0.")?;
            w.put(digits.get(..used).unwrap_or_default())
        }
    }
}

/// Writes one Contact value for a binding: `<uri>[;q=..];expires=N[;+sip.instance=..]`,
/// preceded by `, ` unless it is the first.
pub(crate) fn write_contact(
    w: &mut Writer<'_>,
    first: bool,
    contact: &str,
    q: Option<u16>,
    expires: u32,
    instance: Option<&str>,
) -> Result<(), WriteError> {
    if !first {
        w.put(b", ")?;
    }
    w.put(b"<")?;
    w.put(contact.as_bytes())?;
    w.put(b">")?;
    if let Some(q) = q {
        w.put(b";q=")?;
        write_q(w, q)?;
    }
    w.put(b";expires=")?;
    w.put_u32(expires)?;
    if let Some(i) = instance {
        w.put(b";+sip.instance=")?;
        w.put(i.as_bytes())?;
    }
    Ok(())
}

/// Writes a stored binding as a Contact value with its remaining time at `now`.
pub(crate) fn write_binding(
    w: &mut Writer<'_>,
    first: bool,
    b: &Binding<'_>,
    now: Instant,
) -> Result<(), WriteError> {
    write_contact(w, first, b.contact, b.q, b.expires_in(now), b.instance)
}
