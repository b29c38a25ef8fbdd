//! The user agent's task: it owns the core's sans-IO [`UserAgent`](CoreUa) and the UDP
//! socket, feeds it datagrams, commands and timer firings, sends what it transmits, and
//! turns its events into what the handles wait for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sipwire_core::dns::DnsQuery;
use sipwire_core::endpoint::{Config as EndpointConfig, Endpoint, Input, TransactionId, Tx};
use sipwire_core::message::headers::NameAddr;
use sipwire_core::message::validate::Policy;
use sipwire_core::message::{Header, HeaderName, Parser};
use sipwire_core::sdp::{Direction, OfferAnswerError};
use sipwire_core::transaction::Slot;
use sipwire_core::transport::Transport;
use sipwire_core::ua::register::RegistrationEvent;
use sipwire_core::ua::{
    Call as CoreCall, CallId, CallState, EndReason, ResolutionSlot, UaConfig, UaError, UaEvent,
    UserAgent as CoreUa,
};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::call::{CallEvent, CallInfo, IncomingCall, SharedInfo};
use super::{Config, Error, Offer};
use crate::clock::Clock;
use crate::dns::{Dns, RecordSet};
use crate::media::{LocalSide, Media, Session};
use crate::tcp::{Connections, StreamInput};

/// How long the task, once every handle is gone, waits for its hang-ups and the removal
/// of its binding to be answered.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Incoming calls waiting for [`UserAgent::next_incoming`](super::UserAgent::next_incoming).
const INCOMING_QUEUE: usize = 16;

/// What a handle asks of the task.
pub(crate) enum Command {
    Register {
        registrar: SocketAddr,
        expires: u32,
        events: mpsc::Sender<RegistrationEvent>,
        reply: oneshot::Sender<Result<u32, Error>>,
    },
    RegisterDomain {
        expires: u32,
        events: mpsc::Sender<RegistrationEvent>,
        reply: oneshot::Sender<Result<u32, Error>>,
    },
    Unregister {
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    },
    Call {
        target: String,
        offer: Offer,
        events: mpsc::Sender<CallEvent>,
        reply: oneshot::Sender<Result<(CallId, SharedInfo), Error>>,
    },
    Ring {
        call: CallId,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Answer {
        call: CallId,
        sdp: Option<Vec<u8>>,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Reject {
        call: CallId,
        code: u16,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Reinvite {
        call: CallId,
        direction: Direction,
        reply: oneshot::Sender<Result<Media, Error>>,
    },
    Hangup {
        call: CallId,
        reply: Option<oneshot::Sender<EndReason>>,
    },
    Options {
        target: String,
        reply: oneshot::Sender<Result<u16, Error>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    Status {
        reply: oneshot::Sender<super::Status>,
    },
}

/// The resolver, made on first use (the system's configuration, or the configured name
/// servers); a resolver that cannot be made fails every lookup.
struct DnsLookups {
    servers: Vec<SocketAddr>,
    dns: tokio::sync::OnceCell<Option<Dns>>,
}

impl DnsLookups {
    fn new(servers: Vec<SocketAddr>) -> Self {
        DnsLookups {
            servers,
            dns: tokio::sync::OnceCell::new(),
        }
    }

    async fn lookup(&self, query: &DnsQuery) -> RecordSet {
        let dns = self
            .dns
            .get_or_init(|| async {
                Dns::from_servers(&self.servers)
                    .map_err(|e| warn!("DNS: the system's configuration: {e}"))
                    .ok()
            })
            .await;
        match dns {
            Some(d) => d.lookup(query).await,
            None => RecordSet::Failed,
        }
    }
}

/// What the task keeps for one call.
struct CallEntry {
    events: mpsc::Sender<CallEvent>,
    info: SharedInfo,
    session: Session,
    /// What we are willing to do: `SendRecv`, or `SendOnly` while we hold the peer.
    direction: Direction,
    /// Our re-INVITE's direction and its waiter.
    reinvite: Option<(Direction, oneshot::Sender<Result<Media, Error>>)>,
    /// A re-INVITE asked for before the ACK for our 2xx came: it goes once it has (§14.1
    /// needs a confirmed dialog).
    deferred_reinvite: Option<(Direction, oneshot::Sender<Result<Media, Error>>)>,
    hangup_waiters: Vec<oneshot::Sender<EndReason>>,
}

impl CallEntry {
    fn new(events: mpsc::Sender<CallEvent>, remote: String, session: Session) -> Self {
        let info = Arc::new(Mutex::new(CallInfo {
            remote,
            ..CallInfo::default()
        }));
        CallEntry {
            events,
            info,
            session,
            direction: Direction::SendRecv,
            reinvite: None,
            deferred_reinvite: None,
            hangup_waiters: Vec::new(),
        }
    }

    fn info(&self) -> std::sync::MutexGuard<'_, CallInfo> {
        self.info.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Passes an event on; dropped when the application has left the queue full.
    fn send(&self, e: CallEvent) {
        if self.events.try_send(e).is_err() {
            debug!("a call event was dropped: nobody reads them");
        }
    }
}

/// The registration the task keeps, and who waits on it.
#[derive(Default)]
struct RegistrationEntry {
    events: Option<mpsc::Sender<RegistrationEvent>>,
    first: Option<oneshot::Sender<Result<u32, Error>>>,
    removing: bool,
    removed: Option<oneshot::Sender<Result<(), Error>>>,
}

pub(crate) struct Driver {
    ua: CoreUa<'static, 'static>,
    socket: UdpSocket,
    /// TCP on the same address as `socket` (§18: a UA takes requests on both).
    listener: TcpListener,
    connections: Connections,
    stream_rx: mpsc::Receiver<StreamInput>,
    local: SocketAddr,
    clock: Clock,
    media: LocalSide,
    commands: mpsc::UnboundedReceiver<Command>,
    handles: mpsc::WeakUnboundedSender<Command>,
    incoming: mpsc::Sender<IncomingCall>,
    /// Whether calls may come in ([`Config::incoming`]).
    takes_calls: bool,
    calls: HashMap<CallId, CallEntry>,
    registration: Option<RegistrationEntry>,
    options: HashMap<TransactionId, oneshot::Sender<Result<u16, Error>>>,
    /// The RFC 3263 lookups (the core orders and fails over; this only asks).
    dns: Arc<DnsLookups>,
    resolved_tx: mpsc::UnboundedSender<(u32, RecordSet)>,
    resolved_rx: mpsc::UnboundedReceiver<(u32, RecordSet)>,
    next_session: u64,
}

/// The core borrows its names (user, domain, display name) for the task's whole life, so
/// they are kept for the process's: each distinct name once, so binding user agents again
/// and again with the same identity does not grow memory.
fn intern(s: &str) -> &'static str {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.get(s) {
        return n;
    }
    let n: &'static str = Box::leak(s.into());
    names.insert(n);
    n
}

impl Driver {
    /// Binds the socket and builds the core; also returns the incoming-call queue, our
    /// address and our AOR.
    pub(crate) async fn bind(
        config: Config,
        commands: mpsc::UnboundedReceiver<Command>,
        handles: mpsc::WeakUnboundedSender<Command>,
    ) -> Result<(Driver, mpsc::Receiver<IncomingCall>, SocketAddr, String), Error> {
        let socket = UdpSocket::bind(config.bind).await?;
        // TCP on the port UDP got (§18.1: both on the same port).
        let listener = TcpListener::bind(socket.local_addr()?).await?;
        let local = match config.advertise {
            Some(a) => a,
            None => socket.local_addr()?,
        };
        if local.ip().is_unspecified() {
            return Err(Error::Config(format!(
                "`bind` is the wildcard address {local}: set `advertise` to the address peers reach"
            )));
        }
        let seed = config.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            t ^ u64::from(local.port()) << 48
        });
        let ua_config = UaConfig {
            local,
            transport: config.transport,
            user: intern(&config.user),
            domain: intern(&config.domain),
            display_name: config.display_name.as_deref().map(intern),
            outbound_proxy: config.outbound_proxy,
            policy: Policy {
                methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
                ..Policy::UAS
            },
        };
        let ep_config = EndpointConfig {
            timers: config.timers,
            seed,
            max_message: config.max_message,
            ..EndpointConfig::default()
        };
        let slots: Vec<Slot<Tx>> = (0..config.transactions).map(|_| Slot::default()).collect();
        let arena = vec![0u8; Endpoint::arena_len(config.transactions, config.max_message)];
        let endpoint = Endpoint::new(ep_config, slots, arena);
        let calls: Vec<CoreCall> = (0..config.calls).map(|_| CoreCall::default()).collect();
        let inbox = vec![0u8; config.max_message];
        // One RFC 3263 resolution per call, and one for the registrar.
        let resolutions: Vec<ResolutionSlot> = (0..=config.calls)
            .map(|_| ResolutionSlot::default())
            .collect();
        let ua = CoreUa::new(ua_config, endpoint, calls, inbox)?.with_resolutions(resolutions);
        let dns = Arc::new(DnsLookups::new(config.dns_servers.clone()));
        let aor = ua.aor().to_owned();
        let (incoming, incoming_rx) = mpsc::channel(INCOMING_QUEUE);
        let (resolved_tx, resolved_rx) = mpsc::unbounded_channel();
        let (stream_tx, stream_rx) = mpsc::channel(crate::tcp::STREAM_QUEUE);
        let driver = Driver {
            ua,
            socket,
            listener,
            connections: Connections::new(config.max_message, stream_tx),
            stream_rx,
            local,
            clock: Clock::new(),
            media: LocalSide::new(config.media, local.ip()),
            commands,
            handles,
            incoming,
            takes_calls: config.incoming,
            calls: HashMap::new(),
            registration: None,
            options: HashMap::new(),
            dns,
            resolved_tx,
            resolved_rx,
            next_session: seed >> 16,
        };
        Ok((driver, incoming_rx, local, aor))
    }

    /// Runs until every handle is gone and what they left is finished (or
    /// [`CLOSE_GRACE`] has passed).
    pub(crate) async fn run(mut self) {
        let mut buf = vec![0u8; 65_535];
        let mut closing: Option<tokio::time::Instant> = None;
        // Who waits in `UserAgent::shutdown`; told when the task returns (by dropping).
        let mut _shutdown: Vec<oneshot::Sender<()>> = Vec::new();
        loop {
            self.flush().await;
            if let Some(deadline) = closing {
                if self.finished() || tokio::time::Instant::now() >= deadline {
                    debug!("user agent {} stopped", self.local);
                    return;
                }
            }
            let wake = self.ua.poll_timeout().map(|t| self.clock.at(t));
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let wake = wake.unwrap_or(far).min(closing.unwrap_or(far));
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, remote)) => {
                        let now = self.clock.now();
                        let input = Input::Received {
                            transport: Transport::Udp,
                            local: self.local,
                            remote,
                            bytes: &buf[..n],
                        };
                        self.ua.handle(now, input);
                    }
                    // An ICMP error for an earlier datagram; the transaction's timer
                    // handles the silence.
                    Err(e) => debug!("receive: {e}"),
                },
                cmd = self.commands.recv(), if closing.is_none() => match cmd {
                    Some(Command::Shutdown { reply }) => {
                        _shutdown.push(reply);
                        closing = Some(self.close());
                    }
                    Some(cmd) => self.command(cmd),
                    None => closing = Some(self.close()),
                },
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, remote)) => self.connections.accepted(stream, remote),
                    Err(e) => debug!("accept: {e}"),
                },
                Some(input) = self.stream_rx.recv() => self.stream_input(input),
                Some((id, records)) = self.resolved_rx.recv() => {
                    let now = self.clock.now();
                    records.with_answer(|answer| self.ua.dns_answer(now, id, answer));
                }
                () = tokio::time::sleep_until(wake) => {
                    let now = self.clock.now();
                    self.ua.handle(now, Input::Timeout);
                }
            }
        }
    }

    /// What a TCP connection reports.
    fn stream_input(&mut self, input: StreamInput) {
        let now = self.clock.now();
        match input {
            StreamInput::Received { remote, bytes } => {
                let input = Input::Received {
                    transport: Transport::Tcp,
                    local: self.local,
                    remote,
                    bytes: &bytes,
                };
                self.ua.handle(now, input);
            }
            StreamInput::Failed { txs } => {
                for tx in txs {
                    self.ua.handle(now, Input::SendFailed { tx });
                }
            }
            StreamInput::Closed { remote, id } => self.connections.closed(remote, id),
        }
    }

    /// Nothing is left to finish.
    fn finished(&self) -> bool {
        self.calls.is_empty() && self.registration.is_none() && self.options.is_empty()
    }

    /// Every handle is gone: hang up every call and remove the binding.
    fn close(&mut self) -> tokio::time::Instant {
        let now = self.clock.now();
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let _ = self.ua.hangup(now, id);
        }
        if let Some(r) = self.registration.as_mut() {
            if !r.removing {
                r.removing = true;
                if self.ua.unregister(now).is_err() {
                    self.ua.stop_registration();
                    self.registration = None;
                }
            }
        }
        tokio::time::Instant::now() + CLOSE_GRACE
    }

    /// Sends what the core transmits and handles its events until both are drained.
    async fn flush(&mut self) {
        loop {
            let mut progress = false;
            let mut failed = Vec::new();
            while let Some(t) = self.ua.poll_transmit() {
                progress = true;
                let sent = match t.transport {
                    Transport::Udp => self.socket.send_to(t.bytes, t.remote).await.map(|_| ()),
                    Transport::Tcp => {
                        self.connections.send(t.remote, t.bytes, t.tx);
                        Ok(())
                    }
                    other => Err(std::io::Error::other(format!(
                        "{other:?} is not served by this user agent"
                    ))),
                };
                if let Err(e) = sent {
                    warn!("send to {}: {e}", t.remote);
                    failed.extend(t.tx);
                }
            }
            let now = self.clock.now();
            for tx in failed {
                self.ua.handle(now, Input::SendFailed { tx });
            }
            while let Some(e) = self.ua.poll_event() {
                progress = true;
                self.event(now, e);
            }
            if !progress {
                return;
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = self.clock.now();
        match cmd {
            Command::Register {
                registrar,
                expires,
                events,
                reply,
            } => {
                let sent = self.ua.register(now, registrar, expires);
                self.registering(sent, events, reply);
            }
            Command::RegisterDomain {
                expires,
                events,
                reply,
            } => {
                let sent = self.ua.register_domain(now, expires);
                self.registering(sent, events, reply);
            }
            Command::Unregister { reply } => self.unregister(now, reply),
            Command::Call {
                target,
                offer,
                events,
                reply,
            } => {
                let _ = reply.send(self.place_call(now, &target, offer, events));
            }
            Command::Ring { call, reply } => {
                let _ = reply.send(self.ua.ring(now, call).map_err(Error::from));
            }
            Command::Answer { call, sdp, reply } => {
                let _ = reply.send(self.answer(now, call, sdp));
            }
            Command::Reject { call, code, reply } => {
                let _ = reply.send(self.ua.reject(now, call, code).map_err(Error::from));
            }
            Command::Reinvite {
                call,
                direction,
                reply,
            } => self.reinvite(now, call, direction, reply),
            Command::Hangup { call, reply } => self.hangup(now, call, reply),
            // Taken by the loop before it gets here.
            Command::Shutdown { .. } => {}
            Command::Status { reply } => {
                let _ = reply.send(super::Status {
                    calls: self.ua.active_calls(),
                    transactions: self.ua.endpoint().transactions(),
                    stats: self.ua.endpoint().stats(),
                });
            }
            Command::Options { target, reply } => match self.ua.options(now, &target) {
                Ok(tx) => {
                    self.options.insert(tx, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
        }
    }

    /// A first REGISTER went (its answer goes to `reply`, later events to `events`), or
    /// could not.
    fn registering(
        &mut self,
        sent: Result<(), UaError>,
        events: mpsc::Sender<RegistrationEvent>,
        reply: oneshot::Sender<Result<u32, Error>>,
    ) {
        match sent {
            Ok(()) => {
                self.registration = Some(RegistrationEntry {
                    events: Some(events),
                    first: Some(reply),
                    ..RegistrationEntry::default()
                });
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    fn new_session(&mut self) -> Session {
        self.next_session = self
            .next_session
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1);
        Session::new(self.next_session >> 33)
    }

    fn place_call(
        &mut self,
        now: sipwire_core::time::Instant,
        target: &str,
        offer: Offer,
        events: mpsc::Sender<CallEvent>,
    ) -> Result<(CallId, SharedInfo), Error> {
        let mut session = self.new_session();
        let offer = match offer {
            Offer::Auto => Some(self.media.offer(&mut session, Direction::SendRecv)),
            Offer::Sdp(b) => Some(b),
            Offer::None => None,
        };
        let id = self.ua.invite(now, target, offer.as_deref())?;
        let entry = CallEntry::new(events, target.to_owned(), session);
        let info = entry.info.clone();
        self.calls.insert(id, entry);
        Ok((id, info))
    }

    fn answer(
        &mut self,
        now: sipwire_core::time::Instant,
        call: CallId,
        sdp: Option<Vec<u8>>,
    ) -> Result<(), Error> {
        let entry = self
            .calls
            .get_mut(&call)
            .ok_or(Error::Ua(UaError::NoCall))?;
        if let Some(reason) = entry.info().ended {
            return Err(Error::Ended(reason));
        }
        let offer = self.ua.remote_sdp(call).map(<[u8]>::to_vec);
        let ours = match (sdp, &offer) {
            (Some(s), _) => s,
            (None, Some(o)) => match self.media.answer(&mut entry.session, o, entry.direction) {
                Ok(a) => a,
                Err(OfferAnswerError::NotAcceptable) | Err(_) => {
                    self.ua.reject(now, call, 488)?;
                    return Err(Error::NotAcceptable);
                }
            },
            (None, None) => self.media.offer(&mut entry.session, entry.direction),
        };
        self.ua.answer(now, call, &ours)?;
        if let Some(o) = offer {
            let media = self.media.negotiated(&o, &ours, true);
            entry.info().media = media;
        }
        Ok(())
    }

    fn reinvite(
        &mut self,
        now: sipwire_core::time::Instant,
        call: CallId,
        direction: Direction,
        reply: oneshot::Sender<Result<Media, Error>>,
    ) {
        let Some(entry) = self.calls.get_mut(&call) else {
            let _ = reply.send(Err(Error::Ua(UaError::NoCall)));
            return;
        };
        if entry.reinvite.is_some() || entry.deferred_reinvite.is_some() {
            let _ = reply.send(Err(Error::Ua(UaError::InvalidState)));
            return;
        }
        if self.ua.state(call) == Some(CallState::Answered) {
            entry.deferred_reinvite = Some((direction, reply));
            return;
        }
        let offer = self.media.offer(&mut entry.session, direction);
        match self.ua.reinvite(now, call, &offer) {
            Ok(()) => entry.reinvite = Some((direction, reply)),
            Err(e) => {
                let _ = reply.send(Err(e.into()));
            }
        }
    }

    fn hangup(
        &mut self,
        now: sipwire_core::time::Instant,
        call: CallId,
        reply: Option<oneshot::Sender<EndReason>>,
    ) {
        let Some(entry) = self.calls.get_mut(&call) else {
            // Already over and forgotten.
            if let Some(r) = reply {
                let _ = r.send(EndReason::LocalBye);
            }
            return;
        };
        if let Some(reason) = entry.info().ended {
            if let Some(r) = reply {
                let _ = r.send(reason);
            }
            return;
        }
        entry.hangup_waiters.extend(reply);
        // InvalidState: a BYE is already on its way; the waiter hears when it ends.
        if let Err(e) = self.ua.hangup(now, call) {
            debug!("hang up {call:?}: {e}");
        }
    }

    fn unregister(
        &mut self,
        now: sipwire_core::time::Instant,
        reply: Option<oneshot::Sender<Result<(), Error>>>,
    ) {
        let Some(r) = self.registration.as_mut() else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
            return;
        };
        r.removing = true;
        r.removed = reply;
        if let Err(e) = self.ua.unregister(now) {
            // A REGISTER is outstanding or the binding cannot be removed: stop refreshing
            // it and let it expire.
            self.ua.stop_registration();
            if let Some(r) = self.registration.take() {
                if let Some(reply) = r.removed {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
    }

    /// The peer's URI from the INVITE's From header.
    fn caller_of(&self, call: CallId) -> String {
        let Some(bytes) = self.ua.invite_request(call) else {
            return String::new();
        };
        let mut headers = [Header::EMPTY; 64];
        let parsed = Parser::datagram().parse(bytes, &mut headers).ok();
        let msg = parsed.as_ref().and_then(|p| p.complete());
        msg.and_then(|m| m.header(HeaderName::From))
            .and_then(|h| NameAddr::parse(h.value))
            .map(|n| n.uri.to_string())
            .unwrap_or_default()
    }

    fn event(&mut self, now: sipwire_core::time::Instant, e: UaEvent) {
        match e {
            UaEvent::IncomingCall { call } => self.incoming_call(now, call),
            UaEvent::Ringing { call, code, .. } => {
                // A provisional response with an answer to our offer: early media (RFC 3960).
                let media = match (self.ua.local_sdp(call), self.ua.remote_sdp(call)) {
                    (Some(o), Some(a)) => self.media.negotiated(o, a, false),
                    _ => None,
                };
                let early_media = self.ua.remote_sdp(call).is_some();
                if let Some(entry) = self.calls.get(&call) {
                    entry.send(CallEvent::Ringing {
                        code,
                        early_media,
                        media,
                    });
                }
            }
            UaEvent::Answered { call } => self.answered(now, call),
            UaEvent::Confirmed { call } => {
                let Some(entry) = self.calls.get(&call) else {
                    return;
                };
                // Our 2xx carried the offer: the ACK's answer completes it.
                if entry.info().media.is_none() {
                    if let (Some(o), Some(a)) = (self.ua.local_sdp(call), self.ua.remote_sdp(call))
                    {
                        entry.info().media = self.media.negotiated(o, a, false);
                    }
                }
                entry.send(CallEvent::Confirmed);
                let deferred = self
                    .calls
                    .get_mut(&call)
                    .and_then(|e| e.deferred_reinvite.take());
                if let Some((direction, reply)) = deferred {
                    self.reinvite(now, call, direction, reply);
                }
            }
            UaEvent::Reinvite { call } => self.remote_reinvite(now, call),
            UaEvent::ReinviteDone { call, code } => {
                let (local, remote) = (self.ua.local_sdp(call), self.ua.remote_sdp(call));
                let Some(entry) = self.calls.get_mut(&call) else {
                    return;
                };
                let pending = entry.reinvite.take();
                if (200..300).contains(&code) {
                    if let Some((direction, _)) = pending {
                        entry.direction = direction;
                    }
                    if let (Some(o), Some(a)) = (local, remote) {
                        entry.info().media = self.media.negotiated(o, a, false);
                    }
                }
                let media = entry.info().media;
                if let Some((_, reply)) = pending {
                    let result = match (code, media) {
                        (200..=299, Some(m)) => Ok(m),
                        (200..=299, None) => Err(Error::NotAcceptable),
                        _ => Err(Error::Status(code)),
                    };
                    let _ = reply.send(result);
                }
                entry.send(CallEvent::ReinviteDone { code, media });
            }
            UaEvent::Ended { call, reason } => {
                let Some(entry) = self.calls.remove(&call) else {
                    return;
                };
                entry.info().ended = Some(reason);
                entry.send(CallEvent::Ended { reason });
                for (_, reply) in entry.reinvite.into_iter().chain(entry.deferred_reinvite) {
                    let _ = reply.send(Err(Error::Ended(reason)));
                }
                for w in entry.hangup_waiters {
                    let _ = w.send(reason);
                }
            }
            UaEvent::Registration(e) => self.registration_event(e),
            UaEvent::OptionsAnswered { tx, code } => {
                if let Some(reply) = self.options.remove(&tx) {
                    let _ = reply.send(Ok(code));
                }
            }
            UaEvent::Resolve(query) => {
                let (dns, answer) = (self.dns.clone(), self.resolved_tx.clone());
                tokio::spawn(async move {
                    let records = dns.lookup(&query).await;
                    let _ = answer.send((query.id, records));
                });
            }
        }
    }

    fn incoming_call(&mut self, now: sipwire_core::time::Instant, call: CallId) {
        let session = self.new_session();
        let handles = self.handles.upgrade();
        let Some(handles) = handles.filter(|_| self.takes_calls) else {
            // We take no calls, or every handle is gone (§21.4.18).
            let _ = self.ua.reject(now, call, 480);
            return;
        };
        let Ok(permit) = self.incoming.try_reserve() else {
            // Too many wait already (§21.4.24).
            let _ = self.ua.reject(now, call, 486);
            return;
        };
        let (events_tx, events) = mpsc::channel(super::EVENTS);
        let entry = CallEntry::new(events_tx, self.caller_of(call), session);
        let info = entry.info.clone();
        self.calls.insert(call, entry);
        let offer = self.ua.remote_sdp(call).map(<[u8]>::to_vec);
        permit.send(IncomingCall::new(call, handles, events, info, offer));
    }

    fn answered(&mut self, now: sipwire_core::time::Instant, call: CallId) {
        let Some(entry) = self.calls.get_mut(&call) else {
            return;
        };
        let media = if self.ua.state(call) == Some(CallState::AwaitingAck) {
            // We sent no offer: the 2xx has the peer's, the ACK carries our answer.
            let offer = self
                .ua
                .remote_sdp(call)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            match self
                .media
                .answer(&mut entry.session, &offer, entry.direction)
            {
                Ok(answer) => {
                    let _ = self.ua.ack(now, call, &answer);
                    self.media.negotiated(&offer, &answer, true)
                }
                Err(_) => {
                    // §13.2.2.4: ACK the 2xx, then end the session we cannot run.
                    let _ = self.ua.ack(now, call, b"");
                    let _ = self.ua.hangup(now, call);
                    None
                }
            }
        } else {
            match (self.ua.local_sdp(call), self.ua.remote_sdp(call)) {
                (Some(o), Some(a)) => self.media.negotiated(o, a, false),
                _ => None,
            }
        };
        entry.info().media = media;
        entry.send(CallEvent::Answered { media });
    }

    /// The peer's re-INVITE (§14.2): answer its offer with what we are willing to do (still
    /// `sendonly` while we hold it), or 488 and keep the session.
    fn remote_reinvite(&mut self, now: sipwire_core::time::Instant, call: CallId) {
        let Some(entry) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(offer) = self.ua.pending_offer(call).map(<[u8]>::to_vec) else {
            // No offer: ours goes in the 2xx, the answer comes in the ACK.
            let ours = self.media.offer(&mut entry.session, entry.direction);
            let _ = self.ua.accept_reinvite(now, call, &ours);
            let media = entry.info().media;
            entry.send(CallEvent::Reinvited { media });
            return;
        };
        match self
            .media
            .answer(&mut entry.session, &offer, entry.direction)
        {
            Ok(answer) => {
                let _ = self.ua.accept_reinvite(now, call, &answer);
                let media = self.media.negotiated(&offer, &answer, true);
                entry.info().media = media;
                entry.send(CallEvent::Reinvited { media });
            }
            Err(_) => {
                let _ = self.ua.reject_reinvite(now, call, 488);
                entry.send(CallEvent::Reinvited { media: None });
            }
        }
    }

    fn registration_event(&mut self, e: RegistrationEvent) {
        let Some(r) = self.registration.as_mut() else {
            return;
        };
        match e {
            // The first answer goes to `register`'s caller, not to the event stream.
            RegistrationEvent::Registered { expires } if r.first.is_some() && !r.removing => {
                if let Some(first) = r.first.take() {
                    let _ = first.send(Ok(expires));
                }
                return;
            }
            RegistrationEvent::Failed { code } if r.first.is_some() => {
                if let Some(first) = r.first.take() {
                    let _ = first.send(Err(Error::Status(code)));
                }
                self.ua.stop_registration();
                self.registration = None;
                return;
            }
            RegistrationEvent::Unregistered | RegistrationEvent::Failed { .. } if r.removing => {
                let result = match e {
                    RegistrationEvent::Failed { code } => Err(Error::Status(code)),
                    _ => Ok(()),
                };
                if let Some(reply) = r.removed.take() {
                    let _ = reply.send(result);
                }
                if let Some(events) = &r.events {
                    let _ = events.try_send(e);
                }
                self.ua.stop_registration();
                self.registration = None;
                return;
            }
            // Before the first answer (a 423 retry, say): nobody listens yet.
            _ if r.first.is_some() => return,
            _ => {}
        }
        if let Some(events) = &r.events {
            let _ = events.try_send(e);
        }
    }
}
