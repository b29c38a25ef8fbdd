//! The registrar (RFC 3261 §10.3) and the location service it writes (§10).
//!
//! [`Registrar::process`] takes a parsed REGISTER, the current time and a
//! [`LocationService`], applies the eight steps of §10.3, and returns the response to send as
//! a [`ServerResponse`] whose header values borrow a caller buffer. It never sends anything
//! and never allocates: an endpoint TU calls it for each REGISTER and answers with
//! [`ServerResponse::parts`].
//!
//! ```
//! use sipwire_core::message::{Header, Parser};
//! use sipwire_core::registrar::{
//!     BindingSlot, BindingStore, Outcome, Registrar, RegistrarConfig, LocationService,
//! };
//! use sipwire_core::time::Instant;
//!
//! let bytes = b"REGISTER sip:example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKnashds7\r\nMax-Forwards: 70\r\n\
//! To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=456248\r\n\
//! Call-ID: 843817637684230@998sdasdh09\r\nCSeq: 1826 REGISTER\r\n\
//! Contact: <sip:alice@192.0.2.10>\r\nExpires: 7200\r\nContent-Length: 0\r\n\r\n";
//! let mut headers = [Header::EMPTY; 16];
//! let msg = Parser::datagram().parse(bytes, &mut headers)?.complete().unwrap();
//!
//! let mut slots = [BindingSlot::EMPTY; 8];
//! let mut store = BindingStore::new(&mut slots[..]);
//! let mut registrar = Registrar::new(RegistrarConfig {
//!     domains: &["example.com"],
//!     max_expires: 3600,
//!     ..RegistrarConfig::default()
//! });
//! let mut out = [0u8; 512];
//! let r = registrar.process(Instant::ZERO, &msg, &mut store, &mut out).unwrap();
//! assert_eq!((r.code, r.outcome), (200, Outcome::Registered { bindings: 1 }));
//! assert_eq!(r.header("Contact"), Some(&b"<sip:alice@192.0.2.10>;expires=3600"[..]));
//! assert_eq!(store.len(), 1);
//! // endpoint.respond(now, tx, &r.parts(Some(to_tag)))
//! # Ok::<(), sipwire_core::message::ParseError>(())
//! ```
//!
//! # Capacities
//!
//! Every limit of the registrar, the location store and the redirect server is here:
//!
//! | what | limit | when exceeded |
//! |---|---|---|
//! | bindings in a [`BindingStore`] | the number of [`BindingSlot`]s handed to it | 503 with Retry-After ([`RegistrarConfig::retry_after`]) |
//! | text of one binding: canonical AOR + contact URI + Call-ID + `+sip.instance` | [`BINDING_TEXT`] bytes | 500 |
//! | canonical address-of-record | [`MAX_AOR`] bytes | 404 |
//! | contacts in one REGISTER | [`MAX_CONTACTS`] | 500 |
//! | Contact list of a 200 or 3xx | the caller's output buffer | [`ServerError::OutputTooSmall`], nothing changed |
//! | header fields of a response | [`MAX_RESPONSE_HEADERS`] | [`ServerError::OutputTooSmall`] from [`ServerResponse::push_header`] |
//! | contacts in a 3xx | [`MAX_TARGETS`](crate::redirect::MAX_TARGETS), the highest `q` kept | — |
//!
//! A [`BindingSlot`] is about `BINDING_TEXT + 48` bytes. [`Registrar::process`] keeps
//! `MAX_CONTACTS` planned changes on the stack (about 150 bytes each) and a `MAX_AOR`-byte
//! buffer.
//!
//! # How the RFC is read
//!
//! - Step 1: the Request-URI's host must be one of [`RegistrarConfig::domains`]; if not the
//!   outcome is [`Outcome::NotForUs`] with a 404 a pure registrar sends, and a proxy forwards
//!   the request instead (§16).
//! - Step 2: Require is checked as a UAS does (§8.2.2.3): 420 listing the unknown tags in
//!   Unsupported.
//! - Steps 3 and 4 are the [`Authorizer`]; the default [`AcceptAll`] takes the From address
//!   as the asserted identity ("MAY", step 3) and lets it modify every address-of-record.
//! - Step 5: the address-of-record is the To URI; it must be a SIP or SIPS URI whose host is
//!   the Request-URI's, else 404. Its canonical form is [`canonical_aor`].
//! - Step 6: `*` must be the only Contact value and the Expires header field must be
//!   present and 0 (§10.2.2), else 400. A binding whose Call-ID is the request's and whose
//!   CSeq is not lower aborts the request ("the update MUST be aborted and the request
//!   fails"); the status is the 500 that step 7 gives a request whose binding updates fail.
//! - Step 7: the interval is the Contact's `expires`, else the Expires header field, else
//!   [`RegistrarConfig::default_expires`]. It is refused with 423 and Min-Expires if and only
//!   if it is above 0, below 3600 and below [`RegistrarConfig::min_expires`] (the RFC's
//!   exact condition); it is lowered to [`RegistrarConfig::max_expires`] if above. The same
//!   Call-ID with a CSeq that is not higher than the binding's aborts the whole request with
//!   500, as the RFC's commit rule says ("If any one of them fails ..., the request MUST
//!   fail with a 500 (Server Error) response and all tentative binding updates MUST be
//!   removed"). Two Contact values with equivalent URIs in one REGISTER are one binding; the
//!   later one wins. Removing a binding that does not exist is not an error. Everything is
//!   checked first and then committed at once with [`LocationService::apply`], so a
//!   REGISTER is processed completely or not at all.
//! - Step 8: 200 with one Contact header field listing every binding of the
//!   address-of-record, each with `expires` (the seconds left, rounded up) and `q` and
//!   `+sip.instance` when the binding has them. Date is left to the TU
//!   ([`ServerResponse::push_header`]): the core has no calendar clock.
//! - Bindings lapse by the core's clock: every call first runs [`LocationService::expire`]
//!   with `now`, and lookups ignore lapsed bindings.
//! - Only REGISTER is processed: 405 with `Allow: REGISTER` otherwise, but 200 to a CANCEL
//!   (§9.2: the REGISTER has its final response already; the TU answers 481 itself when the
//!   CANCEL matched no transaction), and [`ServerError::NoResponse`] for an ACK. A registrar never sends 6xx and never a Record-Route
//!   (the response is built from [`ResponseParts`](crate::message::builder::ResponseParts),
//!   which copies none).

mod location;
mod response;
#[cfg(test)]
mod tests;

pub use location::{
    by_preference, canonical_aor, serves_domain, Binding, BindingSlot, BindingStore, Change,
    LocationError, LocationService,
};
pub use response::{Outcome, Refusal, ServerError, ServerResponse, MAX_RESPONSE_HEADERS};

pub(crate) use location::insert_ranked;
pub(crate) use response::{write_binding, write_contact, Out};

use core::ops::ControlFlow;

use crate::message::headers::{Contact, Tokens};
use crate::message::validate;
use crate::message::{HeaderName, Message, Uri, Writer};
use crate::time::Instant;
use location::after_secs;

/// Bytes of text one binding of a [`BindingStore`] holds: the canonical address-of-record,
/// the contact URI, the Call-ID and the `+sip.instance` value together.
pub const BINDING_TEXT: usize = 512;

/// The longest canonical address-of-record, in bytes.
pub const MAX_AOR: usize = 256;

/// The most Contact values one REGISTER may carry.
pub const MAX_CONTACTS: usize = 16;

/// The interval below which §10.3 step 7 allows a 423: a request for less than an hour.
const ONE_HOUR: u32 = 3600;

/// Registrar settings.
#[derive(Clone, Copy, Debug)]
pub struct RegistrarConfig<'c> {
    /// The domains whose bindings this registrar keeps (§10.3 step 1): host names or IP
    /// addresses, see [`serves_domain`]. Empty: every domain.
    pub domains: &'c [&'c str],
    /// Option tags this registrar supports (§10.3 step 2); others in Require get 420.
    pub supported: &'c [&'c str],
    /// The interval, in seconds, of a contact whose REGISTER gives none (§10.3 step 7).
    pub default_expires: u32,
    /// The shortest interval accepted, in seconds: below it (and below an hour), 423 with
    /// this as Min-Expires (§10.3 step 7, §20.23). 0 never refuses.
    pub min_expires: u32,
    /// The longest interval granted, in seconds: a longer request is lowered to it (§10.3
    /// step 7: "MAY choose an expiration less than the requested").
    pub max_expires: u32,
    /// The Retry-After, in seconds, of the 503 sent when the location service is full.
    pub retry_after: u32,
}

impl Default for RegistrarConfig<'_> {
    /// Every domain, no extensions, 3600 s by default, 60 s at least, 7200 s at most, retry
    /// after 30 s when full.
    fn default() -> Self {
        RegistrarConfig {
            domains: &[],
            supported: &[],
            default_expires: 3600,
            min_expires: 60,
            max_expires: 7200,
            retry_after: 30,
        }
    }
}

/// What an [`Authorizer`] decides about a request (§10.3 step 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Authenticated (or no authentication required): go on.
    Accept,
    /// Challenge with 401 (§22.1): the challenge (the WWW-Authenticate value) has been
    /// written to the writer handed to [`Authorizer::authenticate`].
    Challenge,
    /// Refuse with 403.
    Forbidden,
}

/// Authentication and authorization of REGISTER requests (§10.3 steps 3 and 4, §22).
pub trait Authorizer {
    /// Step 3: authenticates the originator. For [`Verdict::Challenge`], write the
    /// WWW-Authenticate value (e.g. `Digest realm="example.com", nonce="..."`) to
    /// `challenge`.
    fn authenticate(
        &mut self,
        now: Instant,
        request: &Message<'_, '_>,
        challenge: &mut Writer<'_>,
    ) -> Verdict {
        let _ = (now, request, challenge);
        Verdict::Accept
    }

    /// Step 4: whether the authenticated originator may modify the bindings of `aor` (the
    /// To URI, before canonicalization); `false` is answered 403.
    fn may_modify(&mut self, request: &Message<'_, '_>, aor: &Uri<'_>) -> bool {
        let _ = (request, aor);
        true
    }
}

/// The default [`Authorizer`]: every request is accepted (§10.3 step 3: "If no
/// authentication mechanism is available, the registrar MAY take the From address as the
/// asserted identity").
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl Authorizer for AcceptAll {}

/// The registrar: processes REGISTER requests against a [`LocationService`] (§10.3).
#[derive(Clone, Debug)]
pub struct Registrar<'c, A: Authorizer = AcceptAll> {
    config: RegistrarConfig<'c>,
    auth: A,
}

impl<'c> Registrar<'c, AcceptAll> {
    /// A registrar that accepts every originator.
    pub fn new(config: RegistrarConfig<'c>) -> Self {
        Registrar {
            config,
            auth: AcceptAll,
        }
    }
}

/// One contact of the REGISTER being processed (§10.3 step 7), before commit.
#[derive(Clone, Copy, Debug)]
struct Planned<'b, 's> {
    /// The URI as received.
    contact: &'b str,
    /// The interval granted; 0 removes.
    granted: u32,
    q: Option<u16>,
    instance: Option<&'b str>,
    /// The stored binding's contact text, if one is equivalent.
    existing: Option<&'s str>,
}

impl<'c, A: Authorizer> Registrar<'c, A> {
    /// A registrar with its own authentication and authorization.
    pub fn with_authorizer(config: RegistrarConfig<'c>, auth: A) -> Self {
        Registrar { config, auth }
    }

    /// The settings.
    pub fn config(&self) -> &RegistrarConfig<'c> {
        &self.config
    }

    /// The authorizer, to inspect or change.
    pub fn authorizer_mut(&mut self) -> &mut A {
        &mut self.auth
    }

    /// Processes one request (§10.3) at `now` against `store`, and returns the response to
    /// send, its header values written into `out` (a 200 lists every binding: allow about
    /// 40 bytes plus the URI per binding). Requests must be processed in the order received
    /// (§10.3); each is applied completely or not at all.
    ///
    /// Lapsed bindings are dropped first ([`LocationService::expire`]). The request is
    /// checked with [`validate::request`] (400, 505), so it need not have been validated.
    ///
    /// Errors: [`ServerError::OutputTooSmall`] if `out` cannot hold the header values (no
    /// binding was changed), [`ServerError::NoResponse`] for an ACK.
    pub fn process<'o, L: LocationService + ?Sized>(
        &mut self,
        now: Instant,
        request: &Message<'_, '_>,
        store: &mut L,
        out: &'o mut [u8],
    ) -> Result<ServerResponse<'o>, ServerError> {
        let mut out = Out::new(out);
        store.expire(now);
        // An ACK is never answered, not even a malformed one (§17.2.1).
        if request.method() == Some("ACK") {
            return Err(ServerError::NoResponse);
        }
        if let Err(r) = validate::request(request) {
            return Ok(ServerResponse::refuse(r.code, r.reason, Refusal::Malformed));
        }
        match request.method() {
            Some("REGISTER") => {}
            // §9.2: the REGISTER it cancels has its final response already; the TU answers
            // 481 itself when the CANCEL matched no transaction.
            Some("CANCEL") => return Ok(ServerResponse::new(200, "OK", Outcome::CancelAccepted)),
            _ => {
                return ServerResponse::refuse(405, "Method Not Allowed", Refusal::MethodNotAllowed)
                    .with("Allow", b"REGISTER")
            }
        }
        let Some(host) = request
            .request_uri()
            .filter(|u| u.is_sip())
            .and_then(Uri::host)
        else {
            return Ok(ServerResponse::refuse(
                416,
                "Unsupported URI Scheme",
                Refusal::UnsupportedScheme,
            ));
        };

        // Step 1: a domain we keep bindings for.
        if !serves_domain(self.config.domains, &host) {
            return Ok(ServerResponse::new(404, "Not Found", Outcome::NotForUs));
        }

        // Step 2: Require (§8.2.2.3).
        let supported = self.config.supported;
        let unknown = |t: &&str| !supported.contains(t);
        let require = || request.values(HeaderName::Require).flat_map(Tokens::new);
        if require().any(|t| unknown(&t)) {
            let value = out.value(|w| {
                for (i, t) in require().filter(unknown).enumerate() {
                    if i > 0 {
                        w.put(b", ")?;
                    }
                    w.put(t.as_bytes())?;
                }
                Ok(())
            })?;
            return ServerResponse::refuse(420, "Bad Extension", Refusal::BadExtension)
                .with("Unsupported", value);
        }

        // Step 3: authentication.
        let mut verdict = Verdict::Accept;
        let len = out.draft(|w| {
            verdict = self.auth.authenticate(now, request, w);
            Ok(())
        })?;
        match verdict {
            Verdict::Accept => {}
            Verdict::Challenge => {
                let value = out.take(len)?;
                return ServerResponse::refuse(401, "Unauthorized", Refusal::Unauthorized)
                    .with("WWW-Authenticate", value);
            }
            Verdict::Forbidden => {
                return Ok(ServerResponse::refuse(403, "Forbidden", Refusal::Forbidden))
            }
        }

        // Step 4: authorization for this address-of-record.
        let Ok(to) = request.to() else {
            return Ok(ServerResponse::refuse(
                400,
                "Malformed To",
                Refusal::Malformed,
            ));
        };
        if !self.auth.may_modify(request, &to.uri) {
            return Ok(ServerResponse::refuse(403, "Forbidden", Refusal::Forbidden));
        }

        // Step 5: the address-of-record, valid for the Request-URI's domain, canonical.
        let mut aor_buf = [0u8; MAX_AOR];
        let aor = match to.uri.host() {
            Some(h) if h.eq_host(&host) => canonical_aor(&to.uri, &mut aor_buf),
            _ => None,
        };
        let Some(aor) = aor else {
            return Ok(ServerResponse::refuse(404, "Not Found", Refusal::NotFound));
        };

        let (Ok(call_id), Ok(cseq)) = (request.call_id(), request.cseq()) else {
            return Ok(ServerResponse::refuse(
                400,
                "Bad Request",
                Refusal::Malformed,
            ));
        };
        let cseq = cseq.seq;
        let header_expires = match request.expires() {
            Ok(e) => e,
            Err(_) => {
                return Ok(ServerResponse::refuse(
                    400,
                    "Malformed Expires",
                    Refusal::Malformed,
                ))
            }
        };
        // An earlier REGISTER of this Call-ID with this or a later CSeq wins (§10.3 steps 6, 7).
        let out_of_order = |b: &Binding<'_>| b.call_id == call_id && cseq <= b.cseq;

        // Step 6: the Contact header field.
        let mut contacts = 0usize;
        let mut star = false;
        for c in request.contacts() {
            match c {
                Ok(Contact::Star) => star = true,
                Ok(Contact::Addr(_)) => {}
                Err(_) => {
                    return Ok(ServerResponse::refuse(
                        400,
                        "Malformed Contact",
                        Refusal::Malformed,
                    ))
                }
            }
            contacts += 1;
        }
        if star {
            if contacts != 1 || header_expires != Some(0) {
                return Ok(ServerResponse::refuse(
                    400,
                    "Invalid Request",
                    Refusal::InvalidWildcard,
                ));
            }
            let mut stale = false;
            store.visit(aor, now, &mut |b| {
                stale |= out_of_order(&b);
                if stale {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            if stale {
                return Ok(out_of_order_response());
            }
            if let Err(e) = store.apply(aor, &[Change::RemoveAll]) {
                return self.store_failed(e, &mut out);
            }
            return Ok(ServerResponse::new(
                200,
                "OK",
                Outcome::Registered { bindings: 0 },
            ));
        }

        // Step 7: each contact's interval, and its binding (tentatively).
        let mut plan: [Option<Planned<'_, '_>>; MAX_CONTACTS] = [None; MAX_CONTACTS];
        let mut planned = 0usize;
        for c in request.contacts() {
            let Ok(Contact::Addr(a)) = c else { continue };
            let requested = a
                .expires()
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            let min = self.config.min_expires;
            if requested > 0 && requested < ONE_HOUR && requested < min {
                let value = out.value(|w| w.put_u32(min))?;
                return ServerResponse::refuse(
                    423,
                    "Interval Too Brief",
                    Refusal::IntervalTooBrief,
                )
                .with("Min-Expires", value);
            }
            let entry = Planned {
                contact: a.uri.raw(),
                granted: requested.min(self.config.max_expires),
                q: a.q(),
                instance: a
                    .params
                    .get("+sip.instance")
                    .flatten()
                    .and_then(|v| core::str::from_utf8(v).ok()),
                existing: None,
            };
            // The same contact twice in one REGISTER: the later value wins.
            let earlier = plan
                .iter_mut()
                .take(planned)
                .flatten()
                .find(|p| Uri::parse(p.contact.as_bytes()).is_ok_and(|u| u.equivalent(&a.uri)));
            if let Some(p) = earlier {
                *p = Planned {
                    existing: p.existing,
                    ..entry
                };
                continue;
            }
            let Some(slot) = plan.get_mut(planned) else {
                return Ok(ServerResponse::refuse(
                    500,
                    "Too Many Contacts",
                    Refusal::TooManyContacts,
                ));
            };
            let existing = store.find(aor, &a.uri, now);
            if existing.as_ref().is_some_and(out_of_order) {
                return Ok(out_of_order_response());
            }
            *slot = Some(Planned {
                existing: existing.map(|b| b.contact),
                ..entry
            });
            planned += 1;
        }
        let plan = plan.get(..planned).unwrap_or_default();

        // Step 8's Contact list, written before the commit so that a short buffer changes
        // nothing: the stored bindings as the plan leaves them, then the new ones.
        let mut listed = 0usize;
        let len = out.draft(|w| {
            let mut result = Ok(());
            store.visit(aor, now, &mut |b| {
                let write = match plan
                    .iter()
                    .flatten()
                    .find(|p| p.existing == Some(b.contact))
                {
                    Some(p) if p.granted == 0 => Ok(()),
                    Some(p) => {
                        listed += 1;
                        write_contact(w, listed == 1, p.contact, p.q, p.granted, p.instance)
                    }
                    None => {
                        listed += 1;
                        write_binding(w, listed == 1, &b, now)
                    }
                };
                result = write;
                if result.is_err() {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            result?;
            for p in plan.iter().flatten() {
                if p.existing.is_none() && p.granted > 0 {
                    listed += 1;
                    write_contact(w, listed == 1, p.contact, p.q, p.granted, p.instance)?;
                }
            }
            Ok(())
        })?;

        // Commit every change at once (§10.3 step 7).
        let mut changes = [Change::RemoveAll; MAX_CONTACTS];
        let mut n = 0usize;
        for p in plan.iter().flatten() {
            let change = if p.granted > 0 {
                Change::Upsert(Binding {
                    aor,
                    contact: p.contact,
                    call_id,
                    cseq,
                    q: p.q,
                    expires_at: after_secs(now, p.granted),
                    instance: p.instance,
                })
            } else if p.existing.is_some() {
                Change::Remove { contact: p.contact }
            } else {
                continue;
            };
            if let Some(slot) = changes.get_mut(n) {
                *slot = change;
                n += 1;
            }
        }
        if n > 0 {
            if let Err(e) = store.apply(aor, changes.get(..n).unwrap_or_default()) {
                return self.store_failed(e, &mut out);
            }
        }

        // Step 8.
        let ok = ServerResponse::new(200, "OK", Outcome::Registered { bindings: listed });
        if listed == 0 {
            return Ok(ok);
        }
        let value = out.take(len)?;
        ok.with("Contact", value)
    }

    /// The response when the location service refused the commit: 503 with Retry-After
    /// when full, 500 otherwise (§10.3 step 7).
    fn store_failed<'o>(
        &self,
        e: LocationError,
        out: &mut Out<'o>,
    ) -> Result<ServerResponse<'o>, ServerError> {
        match e {
            LocationError::Full => {
                let secs = self.config.retry_after;
                let value = out.value(|w| w.put_u32(secs))?;
                ServerResponse::refuse(503, "Service Unavailable", Refusal::Full)
                    .with("Retry-After", value)
            }
            LocationError::TooLong => Ok(ServerResponse::refuse(
                500,
                "Binding Too Long",
                Refusal::Storage,
            )),
            LocationError::Invalid => Ok(ServerResponse::refuse(
                500,
                "Server Internal Error",
                Refusal::Storage,
            )),
        }
    }
}

/// §10.3 steps 6 and 7: a request not newer than a binding of its Call-ID fails, with the
/// 500 of the commit rule.
const fn out_of_order_response<'o>() -> ServerResponse<'o> {
    ServerResponse::refuse(500, "Out Of Order Request", Refusal::OutOfOrder)
}
