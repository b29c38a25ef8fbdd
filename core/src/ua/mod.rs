//! The user agent (RFC 3261 §8 UA core, §9 CANCEL, §10.2 REGISTER, §11 OPTIONS, §12
//! dialogs, §13–15 INVITE sessions), sans-IO, over an [`Endpoint`].
//!
//! The application drives it like the endpoint: inputs and commands in, then drain
//! [`UserAgent::poll_transmit`] and [`UserAgent::poll_event`], and arm
//! [`UserAgent::poll_timeout`]. Session descriptions are bytes the application provides and
//! reads ([`UserAgent::remote_sdp`]); [`crate::sdp`] builds and answers them.

mod call;
mod inbound;
#[cfg(feature = "dns")]
mod locate;
mod options;
mod outbound;
pub mod register;
#[cfg(not(feature = "dns"))]
mod unresolved;

pub use call::{
    Call, CallId, CallState, EndReason, Role, CALL_TEXT, MAX_FORKS, SDP_MAX, SDP_STORE,
};
pub use options::OPTIONS_PENDING;

use core::net::SocketAddr;

use crate::dialog::{TextBuf, DIALOG_TEXT};
use crate::endpoint::{Endpoint, EndpointError, Input, TransactionId, Transmit};
use crate::message::validate::Policy;
use crate::storage::Storage;
use crate::time::Instant;
use crate::transport::Transport;
use call::{Reinvite, Sdp};

/// What the UA tells the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UaEvent {
    /// A new incoming call: [`UserAgent::ring`], [`UserAgent::answer`] or
    /// [`UserAgent::reject`]; its offer, if any, is [`UserAgent::remote_sdp`].
    IncomingCall {
        /// The call.
        call: CallId,
    },
    /// Our INVITE got a provisional response (several early dialogs when it forked).
    Ringing {
        /// The call.
        call: CallId,
        /// The status (180, 183 ...).
        code: u16,
        /// Early dialogs so far.
        early_dialogs: usize,
    },
    /// Our INVITE was answered with a 2xx. If we sent no offer, the 2xx holds one: answer it
    /// with [`UserAgent::ack`] (state [`CallState::AwaitingAck`]); otherwise the ACK has
    /// gone and the answer is [`UserAgent::remote_sdp`].
    Answered {
        /// The call.
        call: CallId,
    },
    /// The ACK for our 2xx arrived: the call is confirmed.
    Confirmed {
        /// The call.
        call: CallId,
    },
    /// The peer sent a re-INVITE (§14.2): [`UserAgent::accept_reinvite`] or
    /// [`UserAgent::reject_reinvite`]; the new offer is [`UserAgent::remote_sdp`].
    Reinvite {
        /// The call.
        call: CallId,
    },
    /// Our re-INVITE finished: 2xx changed the session; anything else left it as it was
    /// (§14.1).
    ReinviteDone {
        /// The call.
        call: CallId,
        /// The final status.
        code: u16,
    },
    /// The call is over.
    Ended {
        /// The call.
        call: CallId,
        /// Why.
        reason: EndReason,
    },
    /// What happened to the registration.
    Registration(register::RegistrationEvent),
    /// Our OPTIONS ([`UserAgent::options`]) got its final status (408: no answer).
    OptionsAnswered {
        /// The transaction `options` returned.
        tx: TransactionId,
        /// The final status.
        code: u16,
    },
    /// A target's host is a name (RFC 3263): look up these records and hand the answer back
    /// with [`UserAgent::dns_answer`]; the INVITE waits meanwhile. A call's resolution asks
    /// one query at a time (NAPTR, SRV, A/AAAA). Feature `dns`.
    #[cfg(feature = "dns")]
    Resolve(crate::dns::DnsQuery),
}

/// Why a UA command failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UaError {
    /// No call slot free.
    TooManyCalls,
    /// No such call (ended, or a stale id).
    NoCall,
    /// The call's state does not allow this.
    InvalidState,
    /// The target's host is a name, no outbound proxy is configured, and the UA has no
    /// resolution table ([`UserAgent::with_resolutions`]), or the URI cannot be resolved
    /// with our transport (RFC 3263 §4.1: a `sips` URI over UDP, say).
    Unresolvable,
    /// Every slot of the resolution table is in use (RFC 3263 lookups in progress).
    TooManyResolutions,
    /// A URI or session description is malformed or too long for the call's storage.
    BadInput,
    /// The endpoint refused.
    Endpoint(EndpointError),
}

impl From<EndpointError> for UaError {
    fn from(e: EndpointError) -> Self {
        UaError::Endpoint(e)
    }
}

impl core::fmt::Display for UaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UaError::TooManyCalls => f.write_str("no free call slot"),
            UaError::NoCall => f.write_str("no such call"),
            UaError::InvalidState => f.write_str("not allowed in the call's state"),
            UaError::Unresolvable => f.write_str("target host cannot be resolved"),
            UaError::TooManyResolutions => f.write_str("no free resolution slot"),
            UaError::BadInput => f.write_str("malformed or oversized input"),
            UaError::Endpoint(e) => write!(f, "endpoint: {e}"),
        }
    }
}

impl core::error::Error for UaError {}

/// Who we are and where we send.
#[derive(Clone, Copy, Debug)]
pub struct UaConfig<'c> {
    /// Our address: the Via sent-by and the Contact host.
    pub local: SocketAddr,
    /// The transport for our requests.
    pub transport: Transport,
    /// Our user name (`alice`).
    pub user: &'c str,
    /// Our domain (`atlanta.example.com`): the AOR is `sip:user@domain`.
    pub domain: &'c str,
    /// Display name for From.
    pub display_name: Option<&'c str>,
    /// An outbound proxy (§8.1.2): every request goes there, with a loose Route to it.
    pub outbound_proxy: Option<SocketAddr>,
    /// What we accept (§8.2): methods, schemes, extensions, body types.
    pub policy: Policy<'c>,
}

/// The events a [`UserAgent`] holds for the application by default (its `EVENTS`). When the
/// application lets more pile up, the oldest is lost.
pub const EVENT_QUEUE: usize = 16;

/// The user agent: calls and registration over an endpoint, in fixed storage. Each call
/// keeps `SDP` bytes of session descriptions, `TEXT` bytes of dialog text and `ID` bytes of
/// its own text (see [`Call`]), and the UA holds up to `EVENTS` events until
/// [`poll_event`](Self::poll_event) takes them; the defaults suit a server or a desktop, a
/// phone picks smaller ones.
pub struct UserAgent<
    's,
    'c,
    const SDP: usize = SDP_STORE,
    const TEXT: usize = DIALOG_TEXT,
    const EVENTS: usize = EVENT_QUEUE,
    const ID: usize = CALL_TEXT,
> {
    config: UaConfig<'c>,
    ep: Endpoint<'s>,
    calls: Storage<'s, Call<SDP, TEXT, ID>>,
    inbox: Storage<'s, u8>,
    /// `sip:user@domain`, our Contact URI, and the outbound proxy's Route URI.
    names: TextBuf<256>,
    aor: crate::dialog::Span,
    contact: crate::dialog::Span,
    proxy_route: crate::dialog::Span,
    events: [Option<UaEvent>; EVENTS],
    ev_head: usize,
    ev_len: usize,
    registration: register::Registration,
    registration_tx: Option<TransactionId>,
    registrar: Option<(SocketAddr, u32)>,
    #[cfg(feature = "dns")]
    next_query: u32,
    options_tx: [Option<TransactionId>; OPTIONS_PENDING],
    /// RFC 3263 resolutions of calls' targets, lent by the caller (empty: no DNS).
    #[cfg(feature = "dns")]
    resolutions: Storage<'s, ResolutionSlot>,
    /// The registrar's resolution slot (RFC 3263, §10.2.6) and the interval to ask for,
    /// until its first REGISTER has a final response.
    #[cfg(feature = "dns")]
    registrar_lookup: Option<(u16, u32)>,
}

/// One slot of the UA's resolution table ([`UserAgent::with_resolutions`]): an RFC 3263
/// resolution in progress, or the targets a call's INVITE may fail over to (§4.3); free
/// when [idle](crate::dns::Resolution::is_idle). Make them with `Default`. Feature `dns`.
#[cfg(feature = "dns")]
pub type ResolutionSlot = crate::dns::Resolution;

/// Where a message the UA handles came from in the endpoint.
#[derive(Clone, Copy, Debug)]
enum Inbound {
    Request {
        tx: TransactionId,
        cancels: Option<TransactionId>,
    },
    Response {
        tx: TransactionId,
    },
    Ack,
    Stray,
    Timeout {
        tx: TransactionId,
    },
    Terminated {
        tx: TransactionId,
    },
}

impl<'s, 'c, const S: usize, const T: usize, const E: usize, const I: usize>
    UserAgent<'s, 'c, S, T, E, I>
{
    /// A UA over `endpoint`, with `calls.len()` call slots and an inbox of at least the
    /// endpoint's `max_message` bytes (where the UA copies each message it reads).
    pub fn new(
        config: UaConfig<'c>,
        mut endpoint: Endpoint<'s>,
        calls: impl Into<Storage<'s, Call<S, T, I>>>,
        inbox: impl Into<Storage<'s, u8>>,
    ) -> Result<Self, UaError> {
        const { assert!(E > 0, "the event queue needs room for one event") };
        let mut names = TextBuf::new();
        let mut buf = [0u8; 200];
        let (user, domain) = (config.user.as_bytes(), config.domain.as_bytes());
        let aor = concat_into(&mut buf, &[b"sip:", user, b"@", domain])
            .and_then(|b| names.push(b).ok())
            .ok_or(UaError::BadInput)?;
        let contact = sock_uri(&mut buf, user, config.local, config.transport, b"")
            .and_then(|b| names.push(b).ok())
            .ok_or(UaError::BadInput)?;
        let proxy_route = match config.outbound_proxy {
            Some(p) => sock_uri(&mut buf, b"", p, config.transport, b";lr")
                .and_then(|b| names.push(b).ok())
                .ok_or(UaError::BadInput)?,
            None => crate::dialog::Span::EMPTY,
        };
        let registration = register::Registration::new(endpoint.rng());
        Ok(UserAgent {
            config,
            ep: endpoint,
            calls: calls.into(),
            inbox: inbox.into(),
            names,
            aor,
            contact,
            proxy_route,
            events: [None; E],
            ev_head: 0,
            ev_len: 0,
            registration,
            registration_tx: None,
            registrar: None,
            #[cfg(feature = "dns")]
            next_query: 1,
            options_tx: [None; OPTIONS_PENDING],
            #[cfg(feature = "dns")]
            resolutions: Storage::Borrowed(&mut []),
            #[cfg(feature = "dns")]
            registrar_lookup: None,
        })
    }

    /// Lends the UA a table for RFC 3263 resolutions: then a call to a URI whose host is a
    /// name (with no outbound proxy) is resolved through [`UaEvent::Resolve`] and
    /// [`dns_answer`](Self::dns_answer), and its INVITE fails over from target to target
    /// (§4.3). One slot per call being set up at once; a slot is held from the
    /// [`invite`](Self::invite) until the call's first provisional or final response. A
    /// full table refuses the call ([`UaError::TooManyResolutions`]); without a table such
    /// a call is [`UaError::Unresolvable`]. Feature `dns`.
    #[cfg(feature = "dns")]
    pub fn with_resolutions(mut self, table: impl Into<Storage<'s, ResolutionSlot>>) -> Self {
        self.resolutions = table.into();
        for slot in self.resolutions.iter_mut() {
            slot.clear();
        }
        self
    }

    /// The endpoint underneath.
    pub fn endpoint(&self) -> &Endpoint<'s> {
        &self.ep
    }

    /// Our address-of-record, `sip:user@domain`.
    pub fn aor(&self) -> &str {
        self.names.str(self.aor)
    }

    /// Our Contact URI.
    pub fn contact(&self) -> &str {
        self.names.str(self.contact)
    }

    /// Calls in use.
    pub fn active_calls(&self) -> usize {
        self.calls.iter().filter(|c| c.in_use).count()
    }

    /// A call's state.
    pub fn state(&self, call: CallId) -> Option<CallState> {
        self.call(call).map(|c| c.state)
    }

    /// The peer's current session description (offer or answer) for a call.
    pub fn remote_sdp(&self, call: CallId) -> Option<&[u8]> {
        self.call(call)?.sdp.get(Sdp::Remote)
    }

    /// Our current session description for a call.
    pub fn local_sdp(&self, call: CallId) -> Option<&[u8]> {
        self.call(call)?.sdp.get(Sdp::Local)
    }

    /// Early dialogs (forks) seen for an outgoing call.
    pub fn early_dialogs(&self, call: CallId) -> usize {
        self.call(call).map_or(0, |c| c.fork_count)
    }

    /// The call's initial INVITE as received (an incoming call, to read its From, To and
    /// headers) or as sent (an outgoing one), while its transaction keeps it.
    pub fn invite_request(&self, call: CallId) -> Option<&[u8]> {
        self.ep.request_bytes(self.call(call)?.invite_tx?)
    }

    /// The call's dialog, once it has one.
    pub fn dialog(&self, call: CallId) -> Option<&crate::dialog::Dialog<T>> {
        self.call(call)?.dialog.as_ref()
    }

    /// Handles one input (received bytes, the timeout, a send failure); then drain.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        if let Input::Timeout = input {
            self.handle_timeout(now);
        } else {
            self.ep.handle(now, input);
        }
        self.pump(now);
    }

    /// The UA's inbox, to receive a datagram into. A device with no other use for a receive
    /// buffer reads its socket straight into it and then calls
    /// [`handle_inbox`](Self::handle_inbox), saving a `max_message` buffer.
    pub fn inbox_mut(&mut self) -> &mut [u8] {
        &mut self.inbox
    }

    /// Handles the first `len` bytes of [`inbox_mut`](Self::inbox_mut) as one received
    /// datagram or framed message (like [`Input::Received`]); then drain. A `len` larger
    /// than the inbox is a caller bug: nothing is handled.
    pub fn handle_inbox(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        len: usize,
    ) {
        // The endpoint copies what it keeps into its arena, so the inbox is free again for
        // the events `pump` copies into it.
        let inbox = core::mem::replace(&mut self.inbox, Storage::Borrowed(&mut []));
        if let Some(bytes) = inbox.get(..len) {
            let input = Input::Received {
                transport,
                local,
                remote,
                bytes,
            };
            self.ep.handle(now, input);
        }
        self.inbox = inbox;
        self.pump(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.ep.poll_transmit()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        if self.ev_len == 0 {
            return None;
        }
        let e = self.events[self.ev_head].take();
        self.ev_head = (self.ev_head + 1) % E;
        self.ev_len -= 1;
        e
    }

    /// When to call [`handle`](Self::handle) with [`Input::Timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self
            .calls
            .iter()
            .filter(|c| c.in_use)
            .map(Call::next_deadline)
            .fold(None, crate::time::earlier);
        crate::time::earliest([
            self.ep.poll_timeout(),
            calls,
            self.registration.next_deadline(),
        ])
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle(now, Input::Timeout);
        for i in 0..self.calls.len() {
            if !self.calls[i].in_use {
                continue;
            }
            self.call_timers(now, i);
        }
        // The registration's timers: refresh before expiry, retry after a failure.
        for _ in 0..4 {
            if self.registration.next_deadline().is_none_or(|d| d > now) {
                break;
            }
            match self.registration.on_timeout(now) {
                Some(register::RegistrationAction::Refresh)
                | Some(register::RegistrationAction::Retry) => {
                    let _ = self.send_register(now, RegisterKind::Refresh);
                }
                Some(register::RegistrationAction::Expired) => {
                    self.emit(UaEvent::Registration(register::RegistrationEvent::Failed {
                        code: 408,
                    }));
                }
                None => break,
            }
        }
    }

    fn emit(&mut self, e: UaEvent) {
        if self.ev_len == E {
            // The application is not draining; the oldest event is the one lost.
            self.ev_head = (self.ev_head + 1) % E;
            self.ev_len -= 1;
        }
        self.events[(self.ev_head + self.ev_len) % E] = Some(e);
        self.ev_len += 1;
    }

    /// Takes every endpoint event and acts on it.
    pub(super) fn pump(&mut self, now: Instant) {
        // Each round handles one endpoint event; the bound is a guard, never reached when the
        // endpoint's queue is bounded.
        for _ in 0..256 {
            let mut inbox = core::mem::replace(&mut self.inbox, Storage::Borrowed(&mut []));
            let got = self.ep.poll_event().map(|e| copy_event(e, &mut inbox));
            let Some((kind, len)) = got else {
                self.inbox = inbox;
                return;
            };
            self.on_inbound(now, kind, &inbox[..len]);
            self.inbox = inbox;
        }
    }

    fn call(&self, id: CallId) -> Option<&Call<S, T, I>> {
        let c = self.calls.get(id.index as usize)?;
        (c.in_use && c.gen == id.gen).then_some(c)
    }

    fn call_index(&self, id: CallId) -> Option<usize> {
        self.call(id).map(|_| id.index as usize)
    }

    fn id_of(&self, i: usize) -> CallId {
        CallId {
            index: i as u16,
            gen: self.calls[i].gen,
        }
    }

    fn alloc_call(&mut self, role: Role) -> Result<usize, UaError> {
        let i = self
            .calls
            .iter()
            .position(|c| !c.in_use)
            .ok_or(UaError::TooManyCalls)?;
        let gen = self.calls[i].gen.wrapping_add(1);
        let c = &mut self.calls[i];
        c.gen = gen;
        c.in_use = true;
        c.role = role;
        c.state = match role {
            Role::Caller => CallState::Calling,
            Role::Callee => CallState::Incoming,
        };
        c.dialog = None;
        c.fork_count = 0;
        c.ids = TextBuf::new();
        c.invite_tx = None;
        c.invite_seq = 0;
        c.cancel_requested = false;
        c.cancelled = false;
        c.bye_tx = None;
        c.reinvite = Reinvite::Idle;
        c.glare_retry = None;
        c.ok_retransmit = None;
        c.sdp.clear_all();
        c.offer_in_answer = false;
        c.end_reason = None;
        c.redirects = 0;
        #[cfg(feature = "dns")]
        {
            c.resolution = None;
        }
        c.ack_branch = crate::rand::Branch::new(self.ep.rng());
        Ok(i)
    }

    /// Ends a call and tells the application, once.
    fn end_call(&mut self, i: usize, reason: EndReason) {
        let c = &mut self.calls[i];
        if !c.in_use || c.state == CallState::Ended {
            return;
        }
        c.state = CallState::Ended;
        c.end_reason = Some(reason);
        c.ok_retransmit = None;
        c.glare_retry = None;
        self.release_resolution(i);
        let id = self.id_of(i);
        self.emit(UaEvent::Ended { call: id, reason });
        self.maybe_free(i);
    }

    /// Frees an ended call's slot once no transaction of ours refers to it.
    fn maybe_free(&mut self, i: usize) {
        let c = &self.calls[i];
        if c.state == CallState::Ended && c.bye_tx.is_none() {
            self.calls[i].in_use = false;
        }
    }

    /// Registers with a registrar (§10.2), kept refreshed; events arrive as
    /// [`UaEvent::Registration`].
    pub fn register(
        &mut self,
        now: Instant,
        registrar: SocketAddr,
        expires: u32,
    ) -> Result<(), UaError> {
        self.release_registrar_resolution();
        self.registrar = Some((registrar, expires));
        self.send_register(now, RegisterKind::Add)
    }

    /// Stops registering: no refresh or retry is sent any more, and an outstanding
    /// REGISTER's answer is ignored. A binding in place stays at the registrar until it
    /// expires; [`unregister`](Self::unregister) first to remove it.
    pub fn stop_registration(&mut self) {
        self.registrar = None;
        self.registration_tx = None;
        self.registration = register::Registration::new(self.ep.rng());
    }

    /// Removes our binding (§10.2.2).
    pub fn unregister(&mut self, now: Instant) -> Result<(), UaError> {
        self.send_register(now, RegisterKind::Remove)
    }

    /// Removes every binding of our AOR (`Contact: *`, §10.2.2).
    pub fn unregister_all(&mut self, now: Instant) -> Result<(), UaError> {
        self.send_register(now, RegisterKind::RemoveAll)
    }

    /// Asks the registrar for the current bindings (§10.2.3).
    pub fn query_registration(&mut self, now: Instant) -> Result<(), UaError> {
        self.send_register(now, RegisterKind::Query)
    }
}

/// Which REGISTER to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegisterKind {
    Add,
    Refresh,
    Remove,
    RemoveAll,
    Query,
}

/// Copies an endpoint event's bytes into `inbox` and keeps its metadata.
fn copy_event(e: crate::endpoint::Event<'_>, inbox: &mut [u8]) -> (Inbound, usize) {
    use crate::endpoint::Event as E;
    let (kind, bytes): (Inbound, &[u8]) = match e {
        E::Request { tx, bytes, cancels } => (Inbound::Request { tx, cancels }, bytes),
        E::Response { tx, bytes } => (Inbound::Response { tx }, bytes),
        E::Ack { bytes, .. } => (Inbound::Ack, bytes),
        E::StrayResponse { bytes, .. } => (Inbound::Stray, bytes),
        // A UA runs a stateful endpoint; nothing to do with this.
        E::StatelessRequest { .. } => (Inbound::Stray, &[][..]),
        E::Timeout { tx } | E::TransportError { tx } => (Inbound::Timeout { tx }, &[][..]),
        E::Terminated { tx } => (Inbound::Terminated { tx }, &[][..]),
    };
    match inbox.get_mut(..bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            (kind, bytes.len())
        }
        // Larger than the inbox: the endpoint never stores more than max_message, so this
        // only happens with an undersized inbox; the message is seen as empty.
        None => (kind, 0),
    }
}

/// Writes `parts` one after another into a buffer; `None` if they do not fit.
pub(crate) fn concat_into<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b [u8]> {
    let mut w = crate::message::Writer::new(buf);
    for p in parts {
        w.put(p).ok()?;
    }
    Some(w.finish())
}

/// `sip:user@host:port` (or `sip:host:port` with an empty `user`), IPv6 in brackets, with
/// `;transport=tcp` for TCP so that the peer's requests come back over it, then `suffix`.
fn sock_uri<'b>(
    buf: &'b mut [u8],
    user: &[u8],
    addr: SocketAddr,
    transport: Transport,
    suffix: &[u8],
) -> Option<&'b [u8]> {
    let mut w = crate::message::Writer::new(buf);
    w.put(b"sip:").ok()?;
    if !user.is_empty() {
        w.put(user).ok()?;
        w.put(b"@").ok()?;
    }
    crate::message::ip::write_host_ip(&mut w, addr.ip()).ok()?;
    w.put(b":").ok()?;
    w.put_u32(u32::from(addr.port())).ok()?;
    if transport != Transport::Udp {
        w.put(b";transport=").ok()?;
        w.put(transport.as_str().to_ascii_lowercase_str().as_bytes())
            .ok()?;
    }
    w.put(suffix).ok()?;
    Some(w.finish())
}

trait LowerStr {
    fn to_ascii_lowercase_str(&self) -> &'static str;
}

impl LowerStr for &'static str {
    fn to_ascii_lowercase_str(&self) -> &'static str {
        match *self {
            "TCP" => "tcp",
            "TLS" => "tls",
            "SCTP" => "sctp",
            "WS" => "ws",
            "WSS" => "wss",
            _ => "udp",
        }
    }
}
