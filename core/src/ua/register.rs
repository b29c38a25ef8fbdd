//! The REGISTER client (RFC 3261 §10.2): adding, refreshing, querying and removing the
//! bindings of one address-of-record at one registrar, as a pure sans-IO state machine.
//!
//! [`Registration`] never touches the endpoint. It builds the REGISTER to send (the UA hands
//! [`RegisterRequest::parts`] to
//! [`Endpoint::send_request`](crate::endpoint::Endpoint::send_request)), consumes the
//! responses as parsed [`Message`]s, and is driven by time through
//! [`next_deadline`](Registration::next_deadline) and [`on_timeout`](Registration::on_timeout).
//!
//! ```text
//! let mut buf = RegisterBuf::new();
//! let req = reg.register(now, &cfg, &mut buf)?;       // Registering
//! let tx = endpoint.send_request(now, dest, &req.parts())?;
//! ... a response for `tx` arrives, parsed into `msg` ...
//! match reg.on_response(now, &cfg, &msg) {             // Registered { expires, until }
//!     RegistrationEvent::Registered { expires } => ...,
//!     RegistrationEvent::RetryWithMinExpires { .. } => send reg.register(..) again,
//!     ...
//! }
//! ... the transaction times out instead: reg.on_transport_timeout(now) ...
//! at reg.next_deadline(): match reg.on_timeout(now) {
//!     Some(RegistrationAction::Refresh | RegistrationAction::Retry) => send reg.register(..),
//!     Some(RegistrationAction::Expired) => the binding lapsed,
//!     None => {}
//! }
//! ```
//!
//! The rules it follows:
//!
//! - One Call-ID and one From tag for the life of the `Registration` (§10.2, §10.2.4: the
//!   same Call-ID for every registration to a registrar during a boot cycle); CSeq starts at
//!   1 and grows by one with every REGISTER built (§10.2).
//! - One REGISTER at a time (§10.2: no new registration until the previous one has a final
//!   response or timed out): building another while one is outstanding is
//!   [`RegistrationError::Pending`]. A response whose Call-ID, From tag or CSeq is not the
//!   outstanding request's is stale and [`Ignored`](RegistrationEvent::Ignored).
//! - The requested interval is written both as the Contact's `expires` parameter and as an
//!   Expires header (§10.2.1.1).
//! - The granted interval is the `expires` parameter of the Contact in the 2xx that is
//!   equivalent (§19.1.4) to ours, else the Expires header, else what we asked for (§10.2.4).
//!   It counts from when the REGISTER was built, which errs on the early side.
//! - A refresh is due [`refresh_delay`] after the REGISTER was built: the granted interval
//!   less a tenth of it, but at least 5 s before expiry, and never before half of it.
//! - A 423 (Interval Too Brief) raises the requested interval to its Min-Expires and asks
//!   for a retry (§10.2.8), once: a 423 whose Min-Expires does not exceed what was asked is
//!   a failure. The raised floor holds for every later REGISTER.
//! - A transaction timeout (or a request that could not be sent), a 408, 500, 503 or 504 to
//!   an add or refresh fails, and a retry is due after the response's Retry-After (at least
//!   1 s) or else [`RETRY_INTERVAL`] (§10.2.7: not at once).
//! - 401 and 407 are failures for now: authentication (§22) is not yet implemented.

use core::fmt;

use crate::message::builder::{Address, RequestParts, SentBy};
use crate::message::headers::{delta_seconds, CSeq, Contact, RetryAfter};
use crate::message::{HeaderName, Message, Uri};
use crate::rand::{Rng, Token};
use crate::time::{Duration, Instant};

/// The longest Contact URI written with an `expires` parameter. A longer one is written
/// without it, and the Expires header alone carries the interval (§10.2.1.1 makes the two
/// equivalent for a single Contact).
pub const MAX_CONTACT_URI: usize = 256;

/// `<` URI `>;expires=` and up to 10 digits.
const CONTACT_VALUE: usize = MAX_CONTACT_URI + 12 + 10;

/// How long to wait before retrying an add or refresh that timed out or met a transient
/// failure without a Retry-After (§10.2.7: "SHOULD NOT immediately re-attempt").
pub const RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The least lead a refresh takes before the binding expires, when the interval allows it.
pub const MIN_REFRESH_LEAD: Duration = Duration::from_secs(5);

/// When a refresh is due, counted from when the REGISTER was built, for a granted interval
/// of `granted` seconds: `granted - lead` where `lead = max(granted / 10, 5 s)`, but at most
/// `granted / 2`, all in milliseconds.
///
/// ```
/// use sipwire_core::time::Duration;
/// use sipwire_core::ua::register::refresh_delay;
/// assert_eq!(refresh_delay(3600), Duration::from_secs(3240)); // a tenth early
/// assert_eq!(refresh_delay(30), Duration::from_secs(25)); // 5 s early
/// assert_eq!(refresh_delay(8), Duration::from_secs(4)); // half way
/// ```
pub fn refresh_delay(granted: u32) -> Duration {
    // In tenths of a second, in 32-bit arithmetic: a tenth of `granted` seconds is `granted`
    // tenths, half of it `5 * granted`.
    const MIN_LEAD: u32 =
        MIN_REFRESH_LEAD.as_secs() as u32 * 10 + MIN_REFRESH_LEAD.subsec_millis() / 100;
    let lead = granted.max(MIN_LEAD).min(granted.saturating_mul(5));
    let lead = Duration::new(u64::from(lead / 10), (lead % 10) * 100_000_000);
    Duration::from_secs(u64::from(granted)).saturating_sub(lead)
}

/// What to register, where: the UA's settings for one registration.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationConfig<'a> {
    /// The Request-URI: the registrar's domain, without userinfo (§10.2), e.g.
    /// `sip:biloxi.example.com`.
    pub registrar: &'a str,
    /// The address-of-record, written in To and From (§10.2), e.g.
    /// `sip:bob@biloxi.example.com`.
    pub aor: &'a str,
    /// Our contact URI, the binding (§10.2.1), e.g. `sip:bob@192.0.2.4:5060`.
    pub contact: &'a str,
    /// The interval to ask for, in seconds (§10.2.1.1), e.g. 3600. A 423 may raise it.
    pub expires: u32,
    /// The display name written in To and From.
    pub display_name: Option<&'a str>,
}

/// Where a registration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationState {
    /// No binding and nothing outstanding.
    Idle,
    /// A REGISTER adding the binding is outstanding, and no binding is known.
    Registering,
    /// The binding is in place.
    Registered {
        /// The granted interval, in seconds.
        expires: u32,
        /// When the binding expires at the registrar (estimated from when the REGISTER was
        /// built).
        until: Instant,
    },
    /// A REGISTER refreshing a binding in place is outstanding.
    Refreshing,
    /// A query (REGISTER without Contact, §10.2.3) is outstanding.
    Querying,
    /// A REGISTER removing a binding, or all of them, is outstanding.
    Unregistering,
    /// The last add, refresh or removal failed with this status code (408 for a timeout). A
    /// binding may still be in place until it expires (see [`Registration::binding`]).
    Failed {
        /// The status code.
        code: u16,
    },
}

/// What a response, or a transport timeout, meant.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// The binding is in place for this many seconds; a refresh is scheduled.
    Registered {
        /// The granted interval, in seconds.
        expires: u32,
    },
    /// The binding (or all bindings) was removed, or the registrar granted 0 s.
    Unregistered,
    /// The answer to a query: how many bindings the address-of-record has (§10.2.3).
    Bindings {
        /// The number of Contact addresses in the 2xx.
        count: usize,
    },
    /// A 423 raised the interval to ask for (§10.2.8): build [`Registration::register`]
    /// again, which now asks for `min_expires`.
    RetryWithMinExpires {
        /// The registrar's Min-Expires, in seconds.
        min_expires: u32,
    },
    /// The request failed with this status code (408 for a timeout). If a retry is due,
    /// [`Registration::next_deadline`] says when.
    Failed {
        /// The status code.
        code: u16,
    },
    /// A provisional response, or one that is not for the outstanding REGISTER.
    Ignored,
}

/// What a timer asks the UA to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationAction {
    /// The binding is due for a refresh: send [`Registration::register`].
    Refresh,
    /// The backoff after a failure has passed: send [`Registration::register`] again.
    Retry,
    /// The binding expired without a successful refresh.
    Expired,
}

/// Why a REGISTER could not be built.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationError {
    /// A REGISTER is outstanding (§10.2): wait for its final response or its timeout.
    Pending,
    /// The CSeq reached 2**31 - 1 (§8.1.1.5); start a new [`Registration`].
    CSeqExhausted,
}

impl fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegistrationError::Pending => "a REGISTER is outstanding",
            RegistrationError::CSeqExhausted => "CSeq exhausted",
        })
    }
}

impl core::error::Error for RegistrationError {}

/// Storage for the text a [`RegisterRequest`] borrows (Call-ID, tag, Contact and Expires
/// values), so the request does not borrow the [`Registration`]. Reusable.
///
/// Laid out with the byte buffers first, word-aligned: clearing them is then one aligned
/// `memset` (`__aeabi_memclr4`, linked anyway), not the unaligned one (smaller firmware).
#[derive(Clone, Debug)]
#[repr(C, align(4))]
pub struct RegisterBuf {
    expires: [u8; 10],
    contact: [u8; CONTACT_VALUE],
    call_id: Option<Token>,
    tag: Option<Token>,
}

impl RegisterBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        RegisterBuf {
            call_id: None,
            tag: None,
            expires: [0; 10],
            contact: [0; CONTACT_VALUE],
        }
    }
}

impl Default for RegisterBuf {
    fn default() -> Self {
        Self::new()
    }
}

/// A REGISTER to send, borrowing the configuration and a [`RegisterBuf`].
#[derive(Clone, Copy, Debug)]
pub struct RegisterRequest<'a> {
    parts: RequestParts<'a>,
    extra: [(&'a str, &'a [u8]); 2],
    extra_len: usize,
}

impl RegisterRequest<'_> {
    /// The request, for [`Endpoint::send_request`](crate::endpoint::Endpoint::send_request).
    /// Its Via is a placeholder: the endpoint writes its own (§8.1.1.7).
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            extra: self.extra.get(..self.extra_len).unwrap_or(&[]),
            ..self.parts
        }
    }

    /// The CSeq number of this REGISTER.
    pub fn cseq(&self) -> u32 {
        self.parts.cseq
    }
}

/// What the outstanding REGISTER does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Register,
    Query,
    Unregister,
    UnregisterAll,
}

/// The outstanding REGISTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    kind: Kind,
    cseq: u32,
    /// The interval asked for (0 when removing; unused for a query).
    expires: u32,
    sent_at: Instant,
}

/// A binding in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Binding {
    expires: u32,
    until: Instant,
}

/// The REGISTER client of §10.2 for one address-of-record at one registrar, in fixed inline
/// storage. See the [module documentation](self) for the rules it follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    call_id: Token,
    tag: Token,
    /// The CSeq of the last REGISTER built; 0 before the first.
    cseq: u32,
    /// The floor a 423 set on the interval asked for; 0 if none.
    min_expires: u32,
    pending: Option<Pending>,
    binding: Option<Binding>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    failed: Option<u16>,
}

impl Registration {
    /// A registration with a fresh Call-ID and From tag, not yet registered.
    pub fn new(rng: &mut Rng) -> Self {
        Registration {
            call_id: Token::new(rng),
            tag: Token::new(rng),
            cseq: 0,
            min_expires: 0,
            pending: None,
            binding: None,
            refresh_at: None,
            retry_at: None,
            failed: None,
        }
    }

    /// The Call-ID every REGISTER of this registration carries.
    pub fn call_id(&self) -> &str {
        self.call_id.as_str()
    }

    /// The From tag every REGISTER of this registration carries.
    pub fn from_tag(&self) -> &str {
        self.tag.as_str()
    }

    /// The CSeq number of the last REGISTER built (0 before the first).
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The interval the next add or refresh asks for: `cfg.expires`, raised to the
    /// Min-Expires of any 423 received.
    pub fn requested_expires(&self, cfg: &RegistrationConfig<'_>) -> u32 {
        cfg.expires.max(self.min_expires)
    }

    /// The binding in place, as `(granted seconds, expiry)`, whatever the state.
    pub fn binding(&self) -> Option<(u32, Instant)> {
        self.binding.map(|b| (b.expires, b.until))
    }

    /// Adds or refreshes our binding (§10.2.1, §10.2.4): a REGISTER with our Contact, its
    /// `expires` parameter and an Expires header set to
    /// [`requested_expires`](Self::requested_expires).
    pub fn register<'a>(
        &mut self,
        now: Instant,
        cfg: &RegistrationConfig<'a>,
        buf: &'a mut RegisterBuf,
    ) -> Result<RegisterRequest<'a>, RegistrationError> {
        let expires = self.requested_expires(cfg);
        self.build(now, cfg, buf, Kind::Register, expires)
    }

    /// Asks for the address-of-record's bindings without changing them (§10.2.3): a
    /// REGISTER without Contact (and without Expires). A refresh or retry falling due while
    /// it is outstanding waits for its answer.
    pub fn query<'a>(
        &mut self,
        now: Instant,
        cfg: &RegistrationConfig<'a>,
        buf: &'a mut RegisterBuf,
    ) -> Result<RegisterRequest<'a>, RegistrationError> {
        self.build(now, cfg, buf, Kind::Query, 0)
    }

    /// Removes our binding (§10.2.2): our Contact with `expires=0`, and `Expires: 0`. Any
    /// scheduled refresh or retry is cancelled.
    pub fn unregister<'a>(
        &mut self,
        now: Instant,
        cfg: &RegistrationConfig<'a>,
        buf: &'a mut RegisterBuf,
    ) -> Result<RegisterRequest<'a>, RegistrationError> {
        self.build(now, cfg, buf, Kind::Unregister, 0)
    }

    /// Removes every binding of the address-of-record, ours and others' (§10.2.2):
    /// `Contact: *` with `Expires: 0`. Any scheduled refresh or retry is cancelled.
    pub fn unregister_all<'a>(
        &mut self,
        now: Instant,
        cfg: &RegistrationConfig<'a>,
        buf: &'a mut RegisterBuf,
    ) -> Result<RegisterRequest<'a>, RegistrationError> {
        self.build(now, cfg, buf, Kind::UnregisterAll, 0)
    }

    fn build<'a>(
        &mut self,
        now: Instant,
        cfg: &RegistrationConfig<'a>,
        buf: &'a mut RegisterBuf,
        kind: Kind,
        expires: u32,
    ) -> Result<RegisterRequest<'a>, RegistrationError> {
        if self.pending.is_some() {
            return Err(RegistrationError::Pending);
        }
        let cseq = self
            .cseq
            .checked_add(1)
            .filter(|&c| c <= CSeq::MAX)
            .ok_or(RegistrationError::CSeqExhausted)?;
        self.cseq = cseq;
        self.pending = Some(Pending {
            kind,
            cseq,
            expires,
            sent_at: now,
        });
        // Sending now: a scheduled refresh or retry is what this is, or is superseded. A
        // query changes nothing: a refresh or retry falling due meanwhile waits for it.
        if kind != Kind::Query {
            self.refresh_at = None;
            self.retry_at = None;
            self.failed = None;
        }

        let RegisterBuf {
            call_id,
            tag,
            expires: expires_buf,
            contact: contact_buf,
        } = buf;
        let call_id: &'a Token = call_id.insert(self.call_id);
        let tag: &'a Token = tag.insert(self.tag);
        let expires_text: &'a [u8] = write_u32(expires, expires_buf);

        let mut extra: [(&'a str, &'a [u8]); 2] = [("", b""); 2];
        let mut contact = None;
        let extra_len = match kind {
            Kind::Query => 0,
            Kind::UnregisterAll => {
                extra = [("Contact", b"*"), ("Expires", expires_text)];
                2
            }
            Kind::Register | Kind::Unregister => {
                match contact_value(cfg.contact, expires_text, contact_buf) {
                    Some(value) => {
                        extra = [("Contact", value), ("Expires", expires_text)];
                        2
                    }
                    None => {
                        // Too long for the buffer: a plain Contact, and the Expires header
                        // alone gives the interval (§10.2.1.1).
                        contact = Some(cfg.contact);
                        extra[0] = ("Expires", expires_text);
                        1
                    }
                }
            }
        };
        let display = cfg.display_name;
        Ok(RegisterRequest {
            parts: RequestParts {
                method: "REGISTER",
                request_uri: cfg.registrar,
                via: SentBy::FILLED_BY_ENDPOINT,
                max_forwards: 70,
                to: Address {
                    display,
                    uri: cfg.aor,
                    tag: None,
                },
                from: Address {
                    display,
                    uri: cfg.aor,
                    tag: Some(tag.as_str()),
                },
                call_id: call_id.as_str(),
                cseq,
                contact,
                route: &[],
                extra: &[],
                content_type: None,
                body: b"",
            },
            extra,
            extra_len,
        })
    }

    /// A response arrived for the outstanding REGISTER. Provisional responses, and responses
    /// whose Call-ID, From tag or CSeq (number and method) are not the outstanding
    /// request's, are [`Ignored`](RegistrationEvent::Ignored) and change nothing.
    pub fn on_response(
        &mut self,
        now: Instant,
        cfg: &RegistrationConfig<'_>,
        response: &Message<'_, '_>,
    ) -> RegistrationEvent {
        let (Some(code), Some(p)) = (response.status(), self.pending) else {
            return RegistrationEvent::Ignored;
        };
        if code < 200 || !self.is_for(response, p.cseq) {
            return RegistrationEvent::Ignored;
        }
        self.pending = None;
        match code {
            200..=299 => self.on_success(p, cfg, response),
            423 if p.kind == Kind::Register => {
                // §10.2.8: retry with at least Min-Expires, but only if that asks for more.
                let min = response
                    .header(HeaderName::MinExpires)
                    .and_then(|h| delta_seconds(h.value));
                match min {
                    Some(min) if min > p.expires => {
                        self.min_expires = min;
                        RegistrationEvent::RetryWithMinExpires { min_expires: min }
                    }
                    _ => self.fail(now, p, code, None),
                }
            }
            _ => {
                let retry_after = response
                    .header(HeaderName::RetryAfter)
                    .and_then(|h| RetryAfter::parse(h.value))
                    .map(|r| Duration::from_secs(u64::from(r.seconds.max(1))));
                self.fail(now, p, code, retry_after)
            }
        }
    }

    /// The outstanding REGISTER's transaction timed out (§17.1.2.2, Timer F), or the
    /// endpoint could not send it (call this when `send_request` fails, too): a failure with
    /// 408, and for an add or refresh a retry after [`RETRY_INTERVAL`] (§10.2.7).
    pub fn on_transport_timeout(&mut self, now: Instant) -> RegistrationEvent {
        match self.pending.take() {
            Some(p) => self.fail(now, p, 408, None),
            None => RegistrationEvent::Ignored,
        }
    }

    /// Time has come to `now`: handles the earliest timer that is due, if any. If several
    /// are due, [`next_deadline`](Self::next_deadline) stays at or before `now`: call again.
    ///
    /// A refresh or retry waits while a REGISTER is outstanding.
    pub fn on_timeout(&mut self, now: Instant) -> Option<RegistrationAction> {
        let idle = self.pending.is_none();
        let refresh = self.refresh_at.filter(|_| idle);
        let retry = self.retry_at.filter(|_| idle);
        let expiry = self.binding.map(|b| b.until);
        // The earliest due timer; of several due at once, the first listed (refresh, retry,
        // expiry): the earliest of all three is due if any is.
        let earliest = crate::time::earliest([refresh, retry, expiry]).filter(|&at| at <= now)?;
        let action = if refresh == Some(earliest) {
            RegistrationAction::Refresh
        } else if retry == Some(earliest) {
            RegistrationAction::Retry
        } else {
            RegistrationAction::Expired
        };
        match action {
            RegistrationAction::Refresh => self.refresh_at = None,
            RegistrationAction::Retry => self.retry_at = None,
            RegistrationAction::Expired => {
                self.binding = None;
                self.refresh_at = None;
            }
        }
        Some(action)
    }

    /// When [`on_timeout`](Self::on_timeout) should next be called: the refresh or retry
    /// (unless a REGISTER is outstanding), or the binding's expiry.
    pub fn next_deadline(&self) -> Option<Instant> {
        let idle = self.pending.is_none();
        crate::time::earliest([
            self.refresh_at.filter(|_| idle),
            self.retry_at.filter(|_| idle),
            self.binding.map(|b| b.until),
        ])
    }

    /// The current state.
    pub fn state(&self) -> RegistrationState {
        match (self.pending, self.failed, self.binding) {
            (Some(p), _, binding) => match p.kind {
                Kind::Register if binding.is_some() => RegistrationState::Refreshing,
                Kind::Register => RegistrationState::Registering,
                Kind::Query => RegistrationState::Querying,
                Kind::Unregister | Kind::UnregisterAll => RegistrationState::Unregistering,
            },
            (None, Some(code), _) => RegistrationState::Failed { code },
            (None, None, Some(b)) => RegistrationState::Registered {
                expires: b.expires,
                until: b.until,
            },
            (None, None, None) => RegistrationState::Idle,
        }
    }

    /// Whether `response` answers the REGISTER with CSeq `cseq` of this registration.
    fn is_for(&self, response: &Message<'_, '_>, cseq: u32) -> bool {
        let cseq_ok = response
            .cseq()
            .is_ok_and(|c| c.seq == cseq && c.method == "REGISTER");
        let call_id_ok = response.call_id().is_ok_and(|c| c == self.call_id.as_str());
        let tag_ok = response
            .from()
            .is_ok_and(|f| f.tag() == Some(self.tag.as_str()));
        cseq_ok && call_id_ok && tag_ok
    }

    fn on_success(
        &mut self,
        p: Pending,
        cfg: &RegistrationConfig<'_>,
        response: &Message<'_, '_>,
    ) -> RegistrationEvent {
        match p.kind {
            Kind::Register => {
                let granted = granted_expires(cfg, response).unwrap_or(p.expires);
                if granted == 0 {
                    self.clear();
                    return RegistrationEvent::Unregistered;
                }
                self.failed = None;
                self.retry_at = None;
                self.binding = Some(Binding {
                    expires: granted,
                    until: p.sent_at + Duration::from_secs(u64::from(granted)),
                });
                self.refresh_at = Some(p.sent_at + refresh_delay(granted));
                RegistrationEvent::Registered { expires: granted }
            }
            Kind::Query => {
                let count = response
                    .contacts()
                    .filter(|c| matches!(c, Ok(Contact::Addr(_))))
                    .count();
                RegistrationEvent::Bindings { count }
            }
            Kind::Unregister | Kind::UnregisterAll => {
                self.clear();
                RegistrationEvent::Unregistered
            }
        }
    }

    /// No binding and nothing scheduled.
    fn clear(&mut self) {
        self.binding = None;
        self.refresh_at = None;
        self.retry_at = None;
        self.failed = None;
    }

    fn fail(
        &mut self,
        now: Instant,
        p: Pending,
        code: u16,
        retry_after: Option<Duration>,
    ) -> RegistrationEvent {
        // A failed query leaves the registration as it was.
        if p.kind != Kind::Query {
            self.failed = Some(code);
        }
        if p.kind == Kind::Register && matches!(code, 408 | 500 | 503 | 504) {
            self.retry_at = Some(now + retry_after.unwrap_or(RETRY_INTERVAL));
        }
        RegistrationEvent::Failed { code }
    }
}

/// The interval a 2xx grants our contact (§10.2.4): the `expires` parameter of the Contact
/// equivalent to ours, else the Expires header; `None` if neither says.
fn granted_expires(cfg: &RegistrationConfig<'_>, response: &Message<'_, '_>) -> Option<u32> {
    let ours = Uri::parse(cfg.contact.as_bytes()).ok();
    let from_contact = ours.and_then(|ours| {
        response.contacts().find_map(|c| match c {
            Ok(Contact::Addr(a)) if a.uri.equivalent(&ours) => a.expires(),
            _ => None,
        })
    });
    from_contact.or_else(|| response.expires().ok().flatten())
}

/// Writes `n` in decimal into `out`, returning the digits.
fn write_u32(n: u32, out: &mut [u8; 10]) -> &[u8] {
    // The message writer's decimal digits (one copy in the program); a u32 has at most 10,
    // so they always fit.
    let mut w = crate::message::Writer::new(out);
    let _ = w.put_u32(n);
    w.finish()
}

/// Writes `<uri>;expires=N` into `out`; `None` if it does not fit.
fn contact_value<'o>(uri: &str, expires: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let mut len = 0;
    let pieces: [&[u8]; 4] = [b"<", uri.as_bytes(), b">;expires=", expires];
    for piece in pieces {
        out.get_mut(len..len + piece.len())?.copy_from_slice(piece);
        len += piece.len();
    }
    out.get(..len)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::message::{Header, Parser, Status};
    use std::format;
    use std::string::String;
    use std::vec::Vec;

    const CFG: RegistrationConfig<'static> = RegistrationConfig {
        registrar: "sip:biloxi.example.com",
        aor: "sip:bob@biloxi.example.com",
        contact: "sip:bob@client.biloxi.example.com:5060",
        expires: 3600,
        display_name: Some("Bob"),
    };

    fn s(n: u64) -> Instant {
        Instant::from_millis(n * 1000)
    }

    fn new_reg() -> Registration {
        Registration::new(&mut Rng::new(42))
    }

    /// Writes the request as the endpoint would (with a real Via).
    fn write(req: &RegisterRequest<'_>) -> Vec<u8> {
        let mut p = req.parts();
        p.via = SentBy {
            transport: "UDP",
            host: "192.0.2.4",
            port: Some(5060),
            branch: "z9hG4bKnashds7",
            rport: true,
        };
        let mut out = [0u8; 2048];
        p.write(&mut out).unwrap().to_vec()
    }

    /// Parses `bytes` and runs `f` on the message.
    fn with_msg<R>(bytes: &[u8], f: impl FnOnce(&Message<'_, '_>) -> R) -> R {
        let mut slots = [Header::EMPTY; 32];
        match Parser::datagram().parse(bytes, &mut slots).unwrap() {
            Status::Complete(m) => f(&m),
            Status::Partial => panic!("partial"),
        }
    }

    /// A response from the registrar to a REGISTER of `reg` with CSeq `cseq`.
    fn response(reg: &Registration, code: u16, cseq: u32, headers: &str) -> Vec<u8> {
        response_with(code, reg.call_id(), reg.from_tag(), cseq, headers)
    }

    fn response_with(code: u16, call_id: &str, tag: &str, cseq: u32, headers: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {code} Whatever\r\n\
             Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7;received=192.0.2.4\r\n\
             To: Bob <sip:bob@biloxi.example.com>;tag=2493k59kd\r\n\
             From: Bob <sip:bob@biloxi.example.com>;tag={tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             {headers}\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    /// Feeds a response to `reg`.
    fn feed(reg: &mut Registration, now: Instant, bytes: &[u8]) -> RegistrationEvent {
        with_msg(bytes, |m| reg.on_response(now, &CFG, m))
    }

    /// Registers at `at` and answers 200 with our contact granted `granted` seconds.
    fn registered(reg: &mut Registration, at: Instant, granted: u32) {
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(at, &CFG, &mut buf).unwrap().cseq();
        let ok = response(
            reg,
            200,
            cseq,
            &format!("Contact: <{}>;expires={granted}\r\n", CFG.contact),
        );
        assert_eq!(
            feed(reg, at, &ok),
            RegistrationEvent::Registered { expires: granted }
        );
    }

    fn header(m: &Message<'_, '_>, name: HeaderName) -> Option<String> {
        m.header(name)
            .map(|h| String::from_utf8(h.value.to_vec()).unwrap())
    }

    #[test]
    fn register_request_has_every_header() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let req = reg.register(s(0), &CFG, &mut buf).unwrap();
        assert_eq!(req.cseq(), 1);
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            assert_eq!(m.method(), Some("REGISTER"));
            assert_eq!(m.request_uri().unwrap().raw(), "sip:biloxi.example.com");
            assert_eq!(m.max_forwards().unwrap(), Some(70));
            let to = m.to().unwrap();
            assert_eq!(to.uri.raw(), CFG.aor);
            assert_eq!(to.tag(), None);
            assert_eq!(to.display, Some(&b"\"Bob\""[..]));
            let from = m.from().unwrap();
            assert_eq!(from.uri.raw(), CFG.aor);
            assert_eq!(from.tag(), Some(reg.from_tag()));
            assert_eq!(from.tag().unwrap().len(), 16);
            assert_eq!(m.call_id().unwrap(), reg.call_id());
            let cseq = m.cseq().unwrap();
            assert_eq!((cseq.seq, cseq.method), (1, "REGISTER"));
            let contacts: Vec<_> = m.contacts().map(Result::unwrap).collect();
            assert_eq!(contacts.len(), 1);
            let Contact::Addr(c) = contacts[0] else {
                panic!("star")
            };
            assert_eq!(c.uri.raw(), CFG.contact);
            assert_eq!(c.expires(), Some(3600));
            assert_eq!(m.expires().unwrap(), Some(3600));
            assert_eq!(header(m, HeaderName::ContentLength).as_deref(), Some("0"));
            assert!(m.body().is_empty());
            assert_eq!(m.headers_named(HeaderName::Contact).count(), 1);
            assert_eq!(m.headers_named(HeaderName::Expires).count(), 1);
        });
        assert_eq!(reg.state(), RegistrationState::Registering);
        // The placeholder Via is there for the endpoint to replace, and writes cleanly.
        let mut out = [0u8; 1024];
        assert!(req.parts().write(&mut out).is_ok());
    }

    #[test]
    fn granted_from_our_contact_param() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(10), &CFG, &mut buf).unwrap().cseq();
        let ok = response(
            &reg,
            200,
            cseq,
            "Contact: <sip:bob@client.biloxi.example.com:5060>;expires=1800\r\nExpires: 7200\r\n",
        );
        assert_eq!(
            feed(&mut reg, s(11), &ok),
            RegistrationEvent::Registered { expires: 1800 }
        );
        // Counted from when the REGISTER was built (10 s), not the response (11 s).
        assert_eq!(
            reg.state(),
            RegistrationState::Registered {
                expires: 1800,
                until: s(1810)
            }
        );
        assert_eq!(reg.binding(), Some((1800, s(1810))));
        // 1800 - 180 = 1620 s after the REGISTER.
        assert_eq!(reg.next_deadline(), Some(s(1630)));
    }

    #[test]
    fn granted_from_expires_header() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
        let ok = response(
            &reg,
            200,
            cseq,
            "Contact: <sip:bob@client.biloxi.example.com:5060>\r\nExpires: 600\r\n",
        );
        assert_eq!(
            feed(&mut reg, s(1), &ok),
            RegistrationEvent::Registered { expires: 600 }
        );
        assert_eq!(reg.next_deadline(), Some(s(540)));
    }

    #[test]
    fn granted_among_several_contacts() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
        // Others' bindings first; ours with the host in another case (§19.1.4: equivalent),
        // one of them on the same line as ours.
        let ok = response(
            &reg,
            200,
            cseq,
            "Contact: <sip:bob@phone.biloxi.example.com>;expires=60\r\n\
             Contact: <sip:bob@192.0.2.99>;expires=120, \
             \"Bob\" <sip:bob@CLIENT.Biloxi.example.com:5060>;q=0.7;expires=900\r\n\
             Contact: <sip:bob@client.biloxi.example.com:5070>;expires=30\r\n\
             Expires: 3600\r\n",
        );
        assert_eq!(
            feed(&mut reg, s(0), &ok),
            RegistrationEvent::Registered { expires: 900 }
        );
    }

    #[test]
    fn granted_falls_back_to_what_was_asked() {
        // Our contact absent, no Expires: what we asked for (3600).
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
        let ok = response(
            &reg,
            200,
            cseq,
            "Contact: <sip:bob@elsewhere.example.com>;expires=60\r\n",
        );
        assert_eq!(
            feed(&mut reg, s(0), &ok),
            RegistrationEvent::Registered { expires: 3600 }
        );
        // A malformed expires param on ours falls to the Expires header.
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(100), &CFG, &mut buf).unwrap().cseq();
        let ok = response(
            &reg,
            200,
            cseq,
            "Contact: <sip:bob@client.biloxi.example.com:5060>;expires=soon\r\nExpires: 1200\r\n",
        );
        assert_eq!(
            feed(&mut reg, s(100), &ok),
            RegistrationEvent::Registered { expires: 1200 }
        );
    }

    #[test]
    fn granted_zero_is_unregistered() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
        let ok = response(&reg, 200, cseq, "Expires: 0\r\n");
        assert_eq!(feed(&mut reg, s(0), &ok), RegistrationEvent::Unregistered);
        assert_eq!(reg.state(), RegistrationState::Idle);
        assert_eq!(reg.next_deadline(), None);
    }

    #[test]
    fn refresh_delay_rule() {
        let d = |secs: u32| refresh_delay(secs).as_millis();
        assert_eq!(d(3600), 3_240_000);
        assert_eq!(d(600), 540_000);
        assert_eq!(d(65), 58_500);
        assert_eq!(d(60), 54_000);
        assert_eq!(d(50), 45_000);
        assert_eq!(d(49), 44_000);
        assert_eq!(d(30), 25_000);
        assert_eq!(d(10), 5_000);
        assert_eq!(d(8), 4_000);
        assert_eq!(d(1), 500);
        assert_eq!(d(0), 0);
        assert_eq!(d(u32::MAX), u128::from(u32::MAX) * 900);
    }

    #[test]
    fn refresh_fires_exactly_and_keeps_call_id() {
        let mut reg = new_reg();
        registered(&mut reg, s(0), 60);
        assert_eq!(reg.next_deadline(), Some(s(54)));
        assert_eq!(reg.on_timeout(Instant::from_millis(53_999)), None);
        assert_eq!(reg.on_timeout(s(54)), Some(RegistrationAction::Refresh));
        assert_eq!(reg.on_timeout(s(54)), None);
        // Still registered until the refresh goes out; the expiry remains a deadline.
        assert_eq!(
            reg.state(),
            RegistrationState::Registered {
                expires: 60,
                until: s(60)
            }
        );
        assert_eq!(reg.next_deadline(), Some(s(60)));

        let call_id = String::from(reg.call_id());
        let mut buf = RegisterBuf::new();
        let req = reg.register(s(54), &CFG, &mut buf).unwrap();
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            assert_eq!(m.call_id().unwrap(), call_id);
            assert_eq!(m.cseq().unwrap().seq, 2);
            assert_eq!(m.from().unwrap().tag(), Some(reg.from_tag()));
        });
        assert_eq!(reg.state(), RegistrationState::Refreshing);
        let ok = response(
            &reg,
            200,
            2,
            &format!("Contact: <{}>;expires=30\r\n", CFG.contact),
        );
        assert_eq!(
            feed(&mut reg, s(55), &ok),
            RegistrationEvent::Registered { expires: 30 }
        );
        // 30 s from 54 s; refresh 5 s before.
        assert_eq!(reg.binding(), Some((30, s(84))));
        assert_eq!(reg.next_deadline(), Some(s(79)));
    }

    #[test]
    fn interval_too_brief_raises_expires_once() {
        let mut reg = new_reg();
        let cfg = RegistrationConfig { expires: 60, ..CFG };
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &cfg, &mut buf).unwrap().cseq();
        let brief = response(&reg, 423, cseq, "Min-Expires: 1800\r\n");
        assert_eq!(
            with_msg(&brief, |m| reg.on_response(s(0), &cfg, m)),
            RegistrationEvent::RetryWithMinExpires { min_expires: 1800 }
        );
        assert_eq!(reg.state(), RegistrationState::Idle);
        assert_eq!(reg.requested_expires(&cfg), 1800);

        let mut buf = RegisterBuf::new();
        let req = reg.register(s(1), &cfg, &mut buf).unwrap();
        assert_eq!(req.cseq(), 2);
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            let Some(Ok(Contact::Addr(c))) = m.contacts().next() else {
                panic!("no contact")
            };
            assert_eq!(c.expires(), Some(1800));
            assert_eq!(m.expires().unwrap(), Some(1800));
        });
        // The same Min-Expires again: a failure, no retry loop.
        let again = response(&reg, 423, 2, "Min-Expires: 1800\r\n");
        assert_eq!(
            with_msg(&again, |m| reg.on_response(s(2), &cfg, m)),
            RegistrationEvent::Failed { code: 423 }
        );
        assert_eq!(reg.state(), RegistrationState::Failed { code: 423 });
        assert_eq!(reg.next_deadline(), None);
        // The floor stays.
        assert_eq!(reg.requested_expires(&cfg), 1800);
    }

    #[test]
    fn interval_too_brief_without_min_expires_fails() {
        let mut reg = new_reg();
        for headers in ["", "Min-Expires: soon\r\n", "Min-Expires: 3600\r\n"] {
            let mut buf = RegisterBuf::new();
            let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
            let brief = response(&reg, 423, cseq, headers);
            assert_eq!(
                feed(&mut reg, s(0), &brief),
                RegistrationEvent::Failed { code: 423 },
                "{headers:?}"
            );
        }
    }

    #[test]
    fn query_has_no_contact_and_counts_bindings() {
        let mut reg = new_reg();
        registered(&mut reg, s(0), 3600);
        let mut buf = RegisterBuf::new();
        let req = reg.query(s(10), &CFG, &mut buf).unwrap();
        assert_eq!(req.cseq(), 2);
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            assert_eq!(m.method(), Some("REGISTER"));
            assert_eq!(m.contacts().count(), 0);
            assert_eq!(m.expires().unwrap(), None);
            assert_eq!(m.call_id().unwrap(), reg.call_id());
        });
        assert_eq!(reg.state(), RegistrationState::Querying);
        let ok = response(
            &reg,
            200,
            2,
            "Contact: <sip:bob@client.biloxi.example.com:5060>;expires=3590\r\n\
             Contact: <sip:bob@phone.biloxi.example.com>;expires=60, <sip:bob@192.0.2.99>\r\n",
        );
        assert_eq!(
            feed(&mut reg, s(11), &ok),
            RegistrationEvent::Bindings { count: 3 }
        );
        // The binding and its refresh are as they were.
        assert_eq!(
            reg.state(),
            RegistrationState::Registered {
                expires: 3600,
                until: s(3600)
            }
        );
        assert_eq!(reg.next_deadline(), Some(s(3240)));
        // No bindings at all.
        let mut buf = RegisterBuf::new();
        let cseq = reg.query(s(20), &CFG, &mut buf).unwrap().cseq();
        let ok = response(&reg, 200, cseq, "");
        assert_eq!(
            feed(&mut reg, s(21), &ok),
            RegistrationEvent::Bindings { count: 0 }
        );
        // A failed query does not fail the registration.
        let mut buf = RegisterBuf::new();
        let cseq = reg.query(s(30), &CFG, &mut buf).unwrap().cseq();
        let err = response(&reg, 503, cseq, "");
        assert_eq!(
            feed(&mut reg, s(31), &err),
            RegistrationEvent::Failed { code: 503 }
        );
        assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
        assert_eq!(reg.next_deadline(), Some(s(3240)));
    }

    #[test]
    fn refresh_waits_for_an_outstanding_query() {
        let mut reg = new_reg();
        registered(&mut reg, s(0), 100);
        let mut buf = RegisterBuf::new();
        let cseq = reg.query(s(89), &CFG, &mut buf).unwrap().cseq();
        // The refresh at 90 s waits; only the expiry stays a deadline.
        assert_eq!(reg.next_deadline(), Some(s(100)));
        assert_eq!(reg.on_timeout(s(91)), None);
        let ok = response(&reg, 200, cseq, "");
        assert_eq!(
            feed(&mut reg, s(91), &ok),
            RegistrationEvent::Bindings { count: 0 }
        );
        assert_eq!(reg.next_deadline(), Some(s(90)));
        assert_eq!(reg.on_timeout(s(91)), Some(RegistrationAction::Refresh));
    }

    #[test]
    fn unregister_removes_our_binding() {
        let mut reg = new_reg();
        registered(&mut reg, s(0), 3600);
        let mut buf = RegisterBuf::new();
        let req = reg.unregister(s(100), &CFG, &mut buf).unwrap();
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            let contacts: Vec<_> = m.contacts().map(Result::unwrap).collect();
            assert_eq!(contacts.len(), 1);
            let Contact::Addr(c) = contacts[0] else {
                panic!("star")
            };
            assert_eq!(c.uri.raw(), CFG.contact);
            assert_eq!(c.expires(), Some(0));
            assert_eq!(m.expires().unwrap(), Some(0));
            assert_eq!(m.cseq().unwrap().seq, 2);
        });
        assert_eq!(reg.state(), RegistrationState::Unregistering);
        // The refresh is cancelled; the old binding's expiry is the only deadline.
        assert_eq!(reg.next_deadline(), Some(s(3600)));
        let ok = response(
            &reg,
            200,
            2,
            "Contact: <sip:bob@phone.biloxi.example.com>;expires=60\r\n",
        );
        assert_eq!(feed(&mut reg, s(101), &ok), RegistrationEvent::Unregistered);
        assert_eq!(reg.state(), RegistrationState::Idle);
        assert_eq!(reg.binding(), None);
        assert_eq!(reg.next_deadline(), None);
    }

    #[test]
    fn unregister_all_sends_star() {
        let mut reg = new_reg();
        registered(&mut reg, s(0), 3600);
        let mut buf = RegisterBuf::new();
        let req = reg.unregister_all(s(5), &CFG, &mut buf).unwrap();
        let bytes = write(&req);
        assert!(bytes
            .windows(b"\r\nContact: *\r\n".len())
            .any(|w| w == b"\r\nContact: *\r\n"));
        with_msg(&bytes, |m| {
            let contacts: Vec<_> = m.contacts().map(Result::unwrap).collect();
            assert_eq!(contacts, [Contact::Star]);
            assert_eq!(m.expires().unwrap(), Some(0));
        });
        let ok = response(&reg, 200, req.cseq(), "");
        assert_eq!(feed(&mut reg, s(6), &ok), RegistrationEvent::Unregistered);
        assert_eq!(reg.state(), RegistrationState::Idle);
        assert_eq!(reg.next_deadline(), None);
    }

    #[test]
    fn cseq_increments_and_call_id_is_stable() {
        let mut reg = new_reg();
        let mut seen = Vec::new();
        for i in 0..5u32 {
            let mut buf = RegisterBuf::new();
            let now = s(u64::from(i));
            let req = match i {
                0 | 3 => reg.register(now, &CFG, &mut buf),
                1 => reg.query(now, &CFG, &mut buf),
                2 => reg.unregister(now, &CFG, &mut buf),
                _ => reg.unregister_all(now, &CFG, &mut buf),
            }
            .unwrap();
            let bytes = write(&req);
            let (call_id, seq) = with_msg(&bytes, |m| {
                (String::from(m.call_id().unwrap()), m.cseq().unwrap().seq)
            });
            seen.push((call_id, seq));
            let ok = response(&reg, 200, req.cseq(), "");
            let _ = feed(&mut reg, now, &ok);
        }
        assert_eq!(
            seen.iter().map(|(_, seq)| *seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert!(seen.iter().all(|(c, _)| c == reg.call_id()));
        assert_eq!(reg.cseq(), 5);
        // Different seeds, different identifiers.
        let other = Registration::new(&mut Rng::new(43));
        assert_ne!(other.call_id(), reg.call_id());
        assert_ne!(reg.call_id(), reg.from_tag());
    }

    #[test]
    fn stale_and_foreign_responses_are_ignored() {
        let mut reg = new_reg();
        // Nothing outstanding.
        let ok = response(&reg, 200, 1, "");
        assert_eq!(feed(&mut reg, s(0), &ok), RegistrationEvent::Ignored);

        registered(&mut reg, s(0), 3600);
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(10), &CFG, &mut buf).unwrap().cseq();
        assert_eq!(cseq, 2);
        let ignored = [
            // The answer to the older REGISTER, retransmitted or late.
            response(&reg, 200, 1, "Expires: 10\r\n"),
            // A provisional.
            response(&reg, 100, 2, ""),
            // Another Call-ID, another From tag.
            response_with(200, "other-call-id", reg.from_tag(), 2, ""),
            response_with(200, reg.call_id(), "othertag", 2, ""),
            // Another method in CSeq.
            format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nTo: <sip:a@b>\r\n\
                 From: <sip:a@b>;tag={}\r\nCall-ID: {}\r\nCSeq: 2 OPTIONS\r\n\
                 Content-Length: 0\r\n\r\n",
                reg.from_tag(),
                reg.call_id()
            )
            .into_bytes(),
            // A request is no response.
            format!(
                "REGISTER sip:biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\
                 To: <sip:a@b>\r\nFrom: <sip:a@b>;tag={}\r\nCall-ID: {}\r\nCSeq: 2 REGISTER\r\n\
                 Content-Length: 0\r\n\r\n",
                reg.from_tag(),
                reg.call_id()
            )
            .into_bytes(),
        ];
        for bytes in &ignored {
            assert_eq!(feed(&mut reg, s(11), bytes), RegistrationEvent::Ignored);
            assert_eq!(reg.state(), RegistrationState::Refreshing);
        }
        let ok = response(&reg, 200, 2, "Expires: 1000\r\n");
        assert_eq!(
            feed(&mut reg, s(12), &ok),
            RegistrationEvent::Registered { expires: 1000 }
        );
        // Once answered, a retransmitted 200 is stale too.
        assert_eq!(feed(&mut reg, s(13), &ok), RegistrationEvent::Ignored);
    }

    #[test]
    fn one_register_at_a_time() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        reg.register(s(0), &CFG, &mut buf).unwrap();
        let mut buf2 = RegisterBuf::new();
        assert_eq!(
            reg.unregister(s(1), &CFG, &mut buf2).err(),
            Some(RegistrationError::Pending)
        );
        assert_eq!(
            reg.query(s(1), &CFG, &mut buf2).err(),
            Some(RegistrationError::Pending)
        );
        assert_eq!(reg.cseq(), 1);
        // The timeout frees it.
        let _ = reg.on_transport_timeout(s(32));
        assert_eq!(reg.unregister(s(33), &CFG, &mut buf2).unwrap().cseq(), 2);
    }

    #[test]
    fn timeout_fails_and_retries_after_backoff() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        reg.register(s(0), &CFG, &mut buf).unwrap();
        assert_eq!(reg.next_deadline(), None);
        assert_eq!(
            reg.on_transport_timeout(s(32)),
            RegistrationEvent::Failed { code: 408 }
        );
        assert_eq!(reg.on_transport_timeout(s(32)), RegistrationEvent::Ignored);
        assert_eq!(reg.state(), RegistrationState::Failed { code: 408 });
        assert_eq!(reg.next_deadline(), Some(s(62)));
        assert_eq!(reg.on_timeout(Instant::from_millis(61_999)), None);
        assert_eq!(reg.on_timeout(s(62)), Some(RegistrationAction::Retry));
        assert_eq!(reg.next_deadline(), None);
        let mut buf = RegisterBuf::new();
        let req = reg.register(s(62), &CFG, &mut buf).unwrap();
        assert_eq!(req.cseq(), 2);
        assert_eq!(reg.state(), RegistrationState::Registering);
    }

    #[test]
    fn transient_errors_retry_with_retry_after() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
        let busy = response(&reg, 503, cseq, "Retry-After: 120 (maintenance)\r\n");
        assert_eq!(
            feed(&mut reg, s(1), &busy),
            RegistrationEvent::Failed { code: 503 }
        );
        assert_eq!(reg.next_deadline(), Some(s(121)));

        // Retry-After: 0 waits one second; 500 without it waits RETRY_INTERVAL.
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(121), &CFG, &mut buf).unwrap().cseq();
        let busy = response(&reg, 500, cseq, "Retry-After: 0\r\n");
        let _ = feed(&mut reg, s(122), &busy);
        assert_eq!(reg.next_deadline(), Some(s(123)));
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(123), &CFG, &mut buf).unwrap().cseq();
        let timeout = response(&reg, 408, cseq, "");
        let _ = feed(&mut reg, s(124), &timeout);
        assert_eq!(reg.next_deadline(), Some(s(154)));
    }

    #[test]
    fn auth_challenges_and_other_errors_fail_without_retry() {
        for code in [401, 403, 404, 407, 302, 606] {
            let mut reg = new_reg();
            let mut buf = RegisterBuf::new();
            let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
            let resp = response(
                &reg,
                code,
                cseq,
                "WWW-Authenticate: Digest realm=\"biloxi.example.com\", nonce=\"x\"\r\n",
            );
            assert_eq!(
                feed(&mut reg, s(1), &resp),
                RegistrationEvent::Failed { code }
            );
            assert_eq!(reg.state(), RegistrationState::Failed { code });
            assert_eq!(reg.next_deadline(), None);
        }
    }

    #[test]
    fn failed_refresh_lets_binding_expire() {
        let mut reg = new_reg();
        registered(&mut reg, s(0), 100);
        assert_eq!(reg.next_deadline(), Some(s(90)));
        assert_eq!(reg.on_timeout(s(90)), Some(RegistrationAction::Refresh));
        let mut buf = RegisterBuf::new();
        reg.register(s(90), &CFG, &mut buf).unwrap();
        // While the refresh is outstanding, the expiry is still a deadline.
        assert_eq!(reg.next_deadline(), Some(s(100)));
        assert_eq!(reg.on_timeout(s(100)), Some(RegistrationAction::Expired));
        assert_eq!(reg.state(), RegistrationState::Registering);
        assert_eq!(
            reg.on_transport_timeout(s(122)),
            RegistrationEvent::Failed { code: 408 }
        );
        assert_eq!(reg.state(), RegistrationState::Failed { code: 408 });
        assert_eq!(reg.next_deadline(), Some(s(152)));

        // A late caller with the refresh and the expiry both due: refresh first.
        let mut reg = new_reg();
        registered(&mut reg, s(0), 100);
        assert_eq!(reg.on_timeout(s(500)), Some(RegistrationAction::Refresh));
        assert_eq!(reg.next_deadline(), Some(s(100)));
        assert_eq!(reg.on_timeout(s(500)), Some(RegistrationAction::Expired));
        assert_eq!(reg.on_timeout(s(500)), None);
        assert_eq!(reg.state(), RegistrationState::Idle);
    }

    #[test]
    fn long_contact_uses_expires_header_alone() {
        let long = format!("sip:bob@{}.example.com", "a".repeat(MAX_CONTACT_URI));
        let cfg = RegistrationConfig {
            contact: &long,
            ..CFG
        };
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let req = reg.register(s(0), &cfg, &mut buf).unwrap();
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            let Some(Ok(Contact::Addr(c))) = m.contacts().next() else {
                panic!("no contact")
            };
            assert_eq!(c.uri.raw(), long);
            assert_eq!(c.expires(), None);
            assert_eq!(m.expires().unwrap(), Some(3600));
        });
        // The longest that fits keeps the param.
        let edge = format!("sip:{}", "b".repeat(MAX_CONTACT_URI - 4));
        let cfg = RegistrationConfig {
            contact: &edge,
            expires: u32::MAX,
            ..CFG
        };
        let _ = reg.on_transport_timeout(s(1));
        let mut buf = RegisterBuf::new();
        let req = reg.register(s(2), &cfg, &mut buf).unwrap();
        let bytes = write(&req);
        with_msg(&bytes, |m| {
            let Some(Ok(Contact::Addr(c))) = m.contacts().next() else {
                panic!("no contact")
            };
            assert_eq!(c.expires(), Some(u32::MAX));
        });
    }

    #[test]
    fn cseq_exhaustion_is_an_error() {
        let mut reg = new_reg();
        reg.cseq = CSeq::MAX - 1;
        let mut buf = RegisterBuf::new();
        assert_eq!(
            reg.register(s(0), &CFG, &mut buf).unwrap().cseq(),
            CSeq::MAX
        );
        let _ = reg.on_transport_timeout(s(1));
        let mut buf = RegisterBuf::new();
        assert_eq!(
            reg.register(s(2), &CFG, &mut buf).err(),
            Some(RegistrationError::CSeqExhausted)
        );
        assert_eq!(reg.state(), RegistrationState::Failed { code: 408 });
    }

    #[test]
    fn huge_grants_do_not_overflow() {
        let mut reg = new_reg();
        registered(&mut reg, Instant::from_micros(u64::MAX - 10), u32::MAX);
        assert_eq!(
            reg.binding(),
            Some((u32::MAX, Instant::from_micros(u64::MAX)))
        );
        assert_eq!(reg.on_timeout(Instant::from_micros(u64::MAX - 1)), None);
    }

    #[test]
    fn digits() {
        let mut out = [0u8; 10];
        assert_eq!(write_u32(0, &mut out), b"0");
        assert_eq!(write_u32(3600, &mut out), b"3600");
        assert_eq!(write_u32(u32::MAX, &mut out), b"4294967295");
    }

    #[test]
    fn never_panics_on_odd_responses() {
        let mut reg = new_reg();
        let mut buf = RegisterBuf::new();
        let cseq = reg.register(s(0), &CFG, &mut buf).unwrap().cseq();
        let odd = [
            "Contact: *\r\n",
            "Contact: garbage <<>>\r\nExpires: -1\r\n",
            "Contact: <sip:bob@client.biloxi.example.com:5060>;expires=99999999999999\r\n",
            "Expires: 4294967295\r\n",
            "Min-Expires: 0\r\n",
            "Retry-After: forever\r\n",
        ];
        for (i, h) in odd.iter().enumerate() {
            for code in [200, 423, 503] {
                let bytes = response(&reg, code, cseq, h);
                let mut slots = [Header::EMPTY; 32];
                if let Ok(Status::Complete(m)) = Parser::datagram().parse(&bytes, &mut slots) {
                    let _ = reg.on_response(s(i as u64), &CFG, &m);
                }
                // Re-arm for the next case.
                if reg.pending.is_none() {
                    reg.pending = Some(Pending {
                        kind: Kind::Register,
                        cseq,
                        expires: 3600,
                        sent_at: s(0),
                    });
                }
            }
        }
        // A malformed CSeq or Call-ID is ignored, not trusted.
        for bad in [
            "SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: banana\r\nContent-Length: 0\r\n\r\n",
            "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        ] {
            let mut slots = [Header::EMPTY; 8];
            if let Ok(Status::Complete(m)) = Parser::datagram().parse(bad.as_bytes(), &mut slots) {
                assert_eq!(reg.on_response(s(9), &CFG, &m), RegistrationEvent::Ignored);
            }
        }
    }
}
