//! The redirect server (RFC 3261 §8.3, §21.3) and the client side of redirection
//! (§8.1.3.4).
//!
//! [`RedirectServer::process`] answers a request for an address-of-record with the contacts
//! the [`LocationService`] holds for it: 302 (Moved Temporarily) with the one contact, or
//! 300 (Multiple Choices) with all of them, highest `q` first, each as
//! `<uri>;q=..;expires=N`; 404 or 480 when there is none. Like the
//! [`Registrar`](crate::registrar::Registrar), it only decides: the TU sends the
//! [`ServerResponse`] with [`Endpoint::respond`](crate::endpoint::Endpoint::respond). A
//! redirect server "does not issue any SIP requests of its own" (§8.3).
//!
//! On the client side, [`targets`] reads a 3xx and gives the URIs to try, in `q` order, and
//! [`RedirectTarget::request_uri`] the Request-URI of the new request.
//!
//! ```
//! use sipwire_core::message::{Header, Parser};
//! use sipwire_core::redirect::{targets, RedirectTarget};
//!
//! let bytes = b"SIP/2.0 300 Multiple Choices\r\n\
//! Via: SIP/2.0/UDP 192.0.2.30;branch=z9hG4bK74bf9\r\n\
//! To: <sip:bob@example.com>;tag=8321234356\r\nFrom: <sip:carol@example.com>;tag=9fxced76sl\r\n\
//! Call-ID: 3848276298220188511@example.com\r\nCSeq: 1 INVITE\r\n\
//! Contact: <sip:bob@192.0.2.4>;q=0.1, <sip:bob@192.0.2.5>;q=0.9;expires=60\r\n\
//! Content-Length: 0\r\n\r\n";
//! let mut headers = [Header::EMPTY; 16];
//! let msg = Parser::datagram().parse(bytes, &mut headers)?.complete().unwrap();
//! let mut out = [RedirectTarget::EMPTY; 8];
//! let n = targets(&msg, &mut |_| false, &mut out);
//! assert_eq!(n, 2);
//! assert_eq!((out[0].uri, out[0].q, out[0].expires), ("sip:bob@192.0.2.5", Some(900), Some(60)));
//! assert_eq!(out[1].uri, "sip:bob@192.0.2.4");
//! # Ok::<(), sipwire_core::message::ParseError>(())
//! ```

use crate::message::headers::Contact;
use crate::message::validate;
use crate::message::{Message, Uri, Writer};
use crate::registrar::{
    by_preference, canonical_aor, insert_ranked, serves_domain, write_binding, Binding,
    LocationService, Out, Outcome, Refusal, ServerError, ServerResponse, MAX_AOR,
};
use crate::time::Instant;

/// The most contacts a 3xx lists: the ones with the highest `q` are kept.
pub const MAX_TARGETS: usize = 16;

/// What to answer when the address-of-record has no binding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NoBinding {
    /// 404 (Not Found): the user is not known here (§16.5: "a resource at this proxy that
    /// does not exist").
    #[default]
    NotFound,
    /// 480 (Temporarily Unavailable): the server "recognizes the user ... but does not
    /// currently have a valid forwarding location" (§21.4.18). Choose this when every
    /// address-of-record of the domain is a known user.
    TemporarilyUnavailable,
}

/// Redirect server settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct RedirectConfig<'c> {
    /// The domains whose addresses-of-record the location service holds, as for
    /// [`RegistrarConfig::domains`](crate::registrar::RegistrarConfig::domains). Empty: every
    /// domain.
    pub domains: &'c [&'c str],
    /// The answer when there is no binding.
    pub no_binding: NoBinding,
}

/// A redirect server (§8.3) over a [`LocationService`].
#[derive(Clone, Copy, Debug)]
pub struct RedirectServer<'c> {
    config: RedirectConfig<'c>,
}

impl<'c> RedirectServer<'c> {
    /// A redirect server.
    pub fn new(config: RedirectConfig<'c>) -> Self {
        RedirectServer { config }
    }

    /// The settings.
    pub fn config(&self) -> &RedirectConfig<'c> {
        &self.config
    }

    /// Decides the response to `request` at `now` (§8.3), its header values written into
    /// `out`:
    ///
    /// - a malformed request: 400 or 505 ([`validate::request`]);
    /// - ACK: [`ServerError::NoResponse`] (never answered); CANCEL: 200 (§8.3: "For
    ///   well-formed CANCEL requests, it SHOULD return a 2xx response"; the TU answers 481
    ///   instead when the CANCEL matched no transaction, §9.2);
    /// - a Request-URI that is not SIP or SIPS: 416; not in our domains: 404 with
    ///   [`Outcome::NotForUs`];
    /// - otherwise the live bindings of the Request-URI's address-of-record
    ///   ([`canonical_aor`]), leaving out any contact equivalent to the Request-URI itself
    ///   (§8.3: "MUST NOT redirect a request to a URI equal to the one in the
    ///   Request-URI"): none gives [`RedirectConfig::no_binding`], one 302, several 300,
    ///   with one Contact header field listing up to [`MAX_TARGETS`] of them by `q`, each
    ///   with its `expires` (how long the contact may be cached, §21.3.3).
    ///
    /// Extensions, methods and bodies are the TU's to check first
    /// ([`Policy::check`](crate::message::validate::Policy::check)).
    pub fn process<'o, L: LocationService + ?Sized>(
        &self,
        now: Instant,
        request: &Message<'_, '_>,
        store: &L,
        out: &'o mut [u8],
    ) -> Result<ServerResponse<'o>, ServerError> {
        let mut out = Out::new(out);
        // An ACK is never answered, not even a malformed one (§17.2.1).
        if request.method() == Some("ACK") {
            return Err(ServerError::NoResponse);
        }
        if let Err(r) = validate::request(request) {
            return Ok(ServerResponse::refuse(r.code, r.reason, Refusal::Malformed));
        }
        if request.method() == Some("CANCEL") {
            return Ok(ServerResponse::new(200, "OK", Outcome::CancelAccepted));
        }
        let Some((ruri, host)) = request
            .request_uri()
            .filter(|u| u.is_sip())
            .and_then(|u| Some((u, u.host()?)))
        else {
            return Ok(ServerResponse::refuse(
                416,
                "Unsupported URI Scheme",
                Refusal::UnsupportedScheme,
            ));
        };
        if !serves_domain(self.config.domains, &host) {
            return Ok(ServerResponse::new(404, "Not Found", Outcome::NotForUs));
        }
        let mut aor_buf = [0u8; MAX_AOR];
        let Some(aor) = canonical_aor(ruri, &mut aor_buf) else {
            return Ok(ServerResponse::refuse(404, "Not Found", Refusal::NotFound));
        };
        let mut found = [Binding::EMPTY; MAX_TARGETS];
        let n = by_preference(
            store,
            aor,
            now,
            &mut |b| b.uri().is_some_and(|u| u.equivalent(ruri)),
            &mut found,
        );
        let found = found.get(..n).unwrap_or_default();
        let (code, reason) = match n {
            0 => {
                let (code, reason) = match self.config.no_binding {
                    NoBinding::NotFound => (404, "Not Found"),
                    NoBinding::TemporarilyUnavailable => (480, "Temporarily Unavailable"),
                };
                return Ok(ServerResponse::refuse(code, reason, Refusal::NoBinding));
            }
            1 => (302, "Moved Temporarily"),
            _ => (300, "Multiple Choices"),
        };
        let value = out.value(|w| {
            for (i, b) in found.iter().enumerate() {
                write_binding(w, i == 0, b, now)?;
            }
            Ok(())
        })?;
        ServerResponse::new(code, reason, Outcome::Redirected { targets: n }).with("Contact", value)
    }
}

/// One URI a 3xx redirects to (§8.1.3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectTarget<'b> {
    /// The Contact URI, as the response wrote it.
    pub uri: &'b str,
    /// Its `q`, in thousandths; `None` if not given (ranked as 1.0).
    pub q: Option<u16>,
    /// How long it may be cached, in seconds: the Contact's `expires`, else the response's
    /// Expires (§21.3.3). `None`: valid once, "MUST NOT be cached".
    pub expires: Option<u32>,
}

impl<'b> RedirectTarget<'b> {
    /// An empty target: a filler for arrays.
    pub const EMPTY: RedirectTarget<'static> = RedirectTarget {
        uri: "",
        q: None,
        expires: None,
    };

    /// The URI, parsed.
    pub fn parsed(&self) -> Option<Uri<'b>> {
        Uri::parse(self.uri.as_bytes()).ok()
    }

    /// The Request-URI of a request to this target (§8.1.3.4): the whole URI "except for
    /// the method-param and header URI parameters" — the `method` parameter and the
    /// `?headers` part are dropped (the headers are for the new request's header fields,
    /// §19.1.5, left to the caller). `None` if `out` is too small or the URI is malformed.
    pub fn request_uri<'o>(&self, out: &'o mut [u8]) -> Option<&'o str> {
        let uri = self.parsed()?;
        let mut w = Writer::new(out);
        if uri.is_sip() {
            let raw = uri.raw();
            let params = core::str::from_utf8(uri.params().as_bytes()).ok()?;
            let headers = uri.headers().map_or(0, |h| h.len() + 1);
            let base = raw.len().checked_sub(params.len())?.checked_sub(headers)?;
            w.put(raw.get(..base)?.as_bytes()).ok()?;
            // The parameters were validated by the URI parser, so `;` splits them exactly.
            for p in params.split(';').filter(|p| !p.is_empty()) {
                let name = p.split('=').next().unwrap_or_default();
                if !name.eq_ignore_ascii_case("method") {
                    w.put(b";").ok()?;
                    w.put(p.as_bytes()).ok()?;
                }
            }
        } else {
            w.put(uri.raw().as_bytes()).ok()?;
        }
        core::str::from_utf8(w.finish()).ok()
    }

    fn rank(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

/// The targets of a 300, 301 or 302 response (§8.1.3.4), written to `out` highest `q`
/// first (a Contact without `q` ranks as 1.0; equal `q` keep the response's order), and how
/// many were written. When there are more than `out` holds, those with the highest `q` are
/// kept.
///
/// A URI is listed once ("MUST NOT add any given URI to the target set more than once"):
/// duplicates in the response are dropped, and `skip` can leave out URIs already in the
/// caller's target set (the original Request-URI, URIs already tried). Malformed Contact
/// values and `*` are ignored. Other responses give none: 305's Contact is a proxy to
/// retry through and 380's alternatives are in the body (§21.3.4, §21.3.5).
pub fn targets<'b>(
    response: &Message<'b, '_>,
    skip: &mut dyn FnMut(&Uri<'b>) -> bool,
    out: &mut [RedirectTarget<'b>],
) -> usize {
    if !matches!(response.status(), Some(300..=302)) {
        return 0;
    }
    let default_expires = response.expires().ok().flatten();
    let mut len = 0;
    for c in response.contacts() {
        let Ok(Contact::Addr(a)) = c else { continue };
        if skip(&a.uri) {
            continue;
        }
        let seen = out
            .get(..len)
            .unwrap_or_default()
            .iter()
            .any(|t| t.parsed().is_some_and(|u| u.equivalent(&a.uri)));
        if seen {
            continue;
        }
        let t = RedirectTarget {
            uri: a.uri.raw(),
            q: a.q(),
            expires: a.expires().or(default_expires),
        };
        len = insert_ranked(out, len, t, RedirectTarget::rank);
    }
    len
}

#[cfg(test)]
mod tests;
