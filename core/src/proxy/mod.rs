//! The proxy core (RFC 3261 §16), stateful (§16.2–16.10) and stateless (§16.11), over an
//! [`Endpoint`].
//!
//! For each request: validation (§16.3: scheme 416, Max-Forwards 483, loop detection 482 by
//! the loop-detection part of our Via branch, Proxy-Require 420), routing information
//! (§16.4: our Request-URI after a strict router, our own top Route), the target set
//! (§16.5: the [`Locator`] for our domains, the Request-URI otherwise), forwarding (§16.6:
//! Request-URI, Max-Forwards, Record-Route, Via, strict next hops; for a stateful proxy a
//! next hop that is a host name is found by RFC 3263, with §4.3 failover, see
//! [`Proxy::with_resolutions`]), and for a stateful proxy the response context (§16.7: 100 Trying, provisionals and 2xx forwarded at once, the best
//! final response, CANCEL of pending branches on a 2xx or 6xx, Timer C §16.8) and CANCEL
//! (§16.10). Requests inside a dialog follow their Route (§16.12); the ACK for a 2xx is
//! forwarded without a transaction.

mod forward;
mod locate;
mod resolve;

pub use crate::dns::DnsQuery;

pub use locate::{targets_from, LocationLocator};

use core::net::SocketAddr;

use crate::endpoint::{Destination, Endpoint, Event, Input, TransactionId, Transmit};
use crate::message::builder::ResponseParts;
use crate::message::validate::{Policy, Role};
use crate::message::{Header, HeaderName, Host, Message, Parser, Status, Uri, Writer};
use crate::storage::Storage;
use crate::time::{Duration, Instant};
use crate::transaction::key::KeyHasher;
use crate::transport::{self, Transport};
use forward::ForwardSpec;

/// One slot of the proxy's resolution table ([`Proxy::with_resolutions`]): the RFC 3263
/// resolution of one branch's next hop, then the targets it fails over to (§4.3); free when
/// [idle](crate::dns::Resolution::is_idle). Make them with `Default`.
pub type ResolutionSlot = crate::dns::Resolution;

/// The most branches one request forks to.
pub const MAX_BRANCHES: usize = 4;
/// Bytes of a target URI.
pub const TARGET_LEN: usize = 192;
/// Bytes of the best final response kept per request (§16.7 step 6).
pub const BEST_LEN: usize = 2048;

/// What an OPTIONS to the server itself is answered with (§11.2): the methods a proxy
/// with a registrar takes, no bodies of its own, no extensions.
const OPTIONS_HEADERS: &[(&str, &[u8])] = &[
    (
        "Allow",
        b"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE",
    ),
    ("Accept", b"application/sdp"),
    ("Supported", b""),
];

/// The branch number under which a context files its server transaction.
const SERVER_SLOT: usize = 7;

/// The tag a context's transaction is filed under in the endpoint
/// ([`Endpoint::set_tu_tag`]): context index + 1, and the branch (or [`SERVER_SLOT`]).
fn context_tag(ci: usize, k: usize) -> u32 {
    let ci = u32::try_from(ci)
        .unwrap_or(u32::MAX >> 3)
        .min(u32::MAX >> 3);
    ((ci + 1) << 3) | (k as u32 & 7)
}

/// The context and branch of a tag; `None` for an untagged transaction.
fn untag(tag: u32) -> Option<(usize, usize)> {
    let ci = (tag >> 3).checked_sub(1)?;
    Some((ci as usize, (tag & 7) as usize))
}

/// `value` in decimal.
fn decimal(mut value: u32, out: &mut [u8; 10]) -> &str {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 || i == 0 {
            break;
        }
    }
    core::str::from_utf8(&out[i..]).unwrap_or("0")
}

/// `value` as 16 lower-case hex digits.
fn hex_token(value: u64, out: &mut [u8; 16]) -> &str {
    for (i, b) in out.iter_mut().enumerate() {
        let nibble = (value >> (60 - 4 * i)) & 0xf;
        *b = b"0123456789abcdef"[nibble as usize];
    }
    core::str::from_utf8(out).unwrap_or("0")
}

/// One target of a request (§16.5): a URI and its q-value (thousandths).
#[derive(Clone, Copy, Debug)]
pub struct Target {
    uri: [u8; TARGET_LEN],
    len: usize,
    /// Preference, 0–1000 (§20.10).
    pub q: u16,
}

impl Target {
    /// A target from a URI; `None` if it is too long.
    pub fn new(uri: &str, q: u16) -> Option<Target> {
        let mut t = Target {
            uri: [0; TARGET_LEN],
            len: uri.len(),
            q,
        };
        t.uri.get_mut(..uri.len())?.copy_from_slice(uri.as_bytes());
        Some(t)
    }

    /// The URI.
    pub fn uri(&self) -> &str {
        core::str::from_utf8(&self.uri[..self.len]).unwrap_or("")
    }
}

/// Where the proxy finds the targets for a Request-URI in its domains (the location service,
/// §16.5) and the addresses of other domains' servers (RFC 3263).
pub trait Locator {
    /// Fills `out` with the targets for `uri` (a URI in one of our domains); returns how
    /// many. None: 480.
    fn targets(
        &mut self,
        now: Instant,
        uri: &Uri<'_>,
        out: &mut [Option<Target>; MAX_BRANCHES],
    ) -> usize;

    /// The address of the next hop for a host that is a name, if a static table knows it
    /// (looked up before DNS; a name it does not know is resolved by RFC 3263 through
    /// [`ProxyEvent::Resolve`], see [`Proxy::with_resolutions`]).
    fn resolve(
        &mut self,
        host: &str,
        port: Option<u16>,
        transport: Transport,
    ) -> Option<SocketAddr>;
}

/// Forking: all at once, or one after another by q (§16.6 step 1, §16.7 step 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forking {
    /// Every target at once.
    Parallel,
    /// Highest q first; the next only after a final non-2xx.
    Sequential,
}

/// Proxy settings.
#[derive(Clone, Copy, Debug)]
pub struct ProxyConfig<'c> {
    /// Our address: Via sent-by, Record-Route, and how we recognise our Route entries.
    pub local: SocketAddr,
    /// Transport for forwarded requests.
    pub transport: Transport,
    /// Domains we are responsible for (the location service's).
    pub domains: &'c [&'c str],
    /// Whether to Record-Route (§16.6 step 4).
    pub record_route: bool,
    /// Forking policy.
    pub forking: Forking,
    /// Extensions we support (Proxy-Require, §16.3 item 6).
    pub supported: &'c [&'c str],
    /// Timer C (§16.8): more than 3 minutes.
    pub timer_c: Duration,
}

/// What the proxy did, for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyEvent {
    /// A request was forwarded to this many branches.
    Forwarded {
        /// Branches.
        branches: usize,
    },
    /// A request was answered by the proxy itself with this status.
    Answered {
        /// The status.
        code: u16,
    },
    /// A next hop is a host name the [`Locator`] does not know, and RFC 3263 §4 needs these
    /// DNS records for it: look them up and hand them back with [`Proxy::dns_answer`]; the
    /// branch waits meanwhile.
    Resolve(DnsQuery),
    /// A REGISTER for one of our domains: the registrar answers it with
    /// [`Proxy::respond`], reading it with [`Proxy::request_bytes`] (§10.3).
    Register {
        /// The server transaction.
        tx: TransactionId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BranchState {
    Unused,
    /// Waiting for a DNS answer for its next hop.
    Resolving,
    /// Waiting to be tried (sequential forking).
    Waiting,
    Trying,
    Proceeding,
    Done,
}

#[derive(Clone, Copy, Debug)]
struct BranchCtx {
    state: BranchState,
    tx: Option<TransactionId>,
    cancel_pending: bool,
    target: Option<Target>,
    /// The RFC 3263 target the branch is sent to (its next hop a name DNS resolved).
    resolved: Option<crate::dns::Target>,
    /// The branch's slot in the resolution table: its query, then its failover targets.
    resolution: Option<u16>,
}

const NO_BRANCH: BranchCtx = BranchCtx {
    state: BranchState::Unused,
    tx: None,
    cancel_pending: false,
    target: None,
    resolved: None,
    resolution: None,
};

/// The response context of one proxied request (§16.7).
#[derive(Clone, Debug)]
pub struct Context {
    in_use: bool,
    server_tx: Option<TransactionId>,
    invite: bool,
    branches: [BranchCtx; MAX_BRANCHES],
    answered_2xx: bool,
    /// The pending branches were cancelled (CANCEL, Timer C, a 2xx or 6xx): no failover.
    cancelled: bool,
    best_code: u16,
    best: [u8; BEST_LEN],
    best_len: usize,
    timer_c: Option<Instant>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            in_use: false,
            server_tx: None,
            invite: false,
            branches: [NO_BRANCH; MAX_BRANCHES],
            answered_2xx: false,
            cancelled: false,
            best_code: 0,
            best: [0; BEST_LEN],
            best_len: 0,
            timer_c: None,
        }
    }
}

/// A SIP proxy over an endpoint and a locator.
pub struct Proxy<'s, 'c, L: Locator> {
    config: ProxyConfig<'c>,
    ep: Endpoint<'s>,
    locator: L,
    contexts: Storage<'s, Context>,
    scratch: Storage<'s, u8>,
    events: [Option<ProxyEvent>; 8],
    ev_len: usize,
    /// The next hop (address and transport) when a DNS answer is being used.
    forced_hop: Option<crate::dns::Target>,
    /// A branch could not start because the transaction (or resolution) table was full.
    branch_table_full: bool,
    /// RFC 3263 resolutions of next hops, one per branch resolving or able to fail over.
    resolutions: Storage<'s, ResolutionSlot>,
    /// The first query id of the next resolution.
    next_query: u32,
    /// No Timer C fires before this (§16.8); see [`Proxy::poll_timeout`].
    timer_c_hint: Option<Instant>,
}

/// What arrived, copied out of the endpoint.
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
    Stateless {
        remote: SocketAddr,
    },
    Timeout {
        tx: TransactionId,
    },
    Terminated {
        tx: TransactionId,
    },
}

impl<'s, 'c, L: Locator> Proxy<'s, 'c, L> {
    /// A proxy with `contexts.len()` concurrent stateful requests and a scratch buffer of at
    /// least twice the endpoint's `max_message` (an incoming message and one being built).
    pub fn new(
        config: ProxyConfig<'c>,
        endpoint: Endpoint<'s>,
        locator: L,
        contexts: impl Into<Storage<'s, Context>>,
        scratch: impl Into<Storage<'s, u8>>,
    ) -> Self {
        Proxy {
            config,
            ep: endpoint,
            locator,
            contexts: contexts.into(),
            scratch: scratch.into(),
            events: [None; 8],
            ev_len: 0,
            forced_hop: None,
            branch_table_full: false,
            resolutions: Storage::Borrowed(&mut []),
            next_query: 1,
            timer_c_hint: None,
        }
    }

    /// The endpoint underneath.
    pub fn endpoint(&self) -> &Endpoint<'s> {
        &self.ep
    }

    /// The locator, to update (e.g. the registrar's bindings).
    pub fn locator_mut(&mut self) -> &mut L {
        &mut self.locator
    }

    /// The request a server transaction holds (a REGISTER to answer, say).
    pub fn request_bytes(&self, tx: TransactionId) -> Option<&[u8]> {
        self.ep.request_bytes(tx)
    }

    /// Answers a request the proxy handed to the application.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: TransactionId,
        parts: &ResponseParts<'_>,
    ) -> Result<(), crate::endpoint::EndpointError> {
        self.ep.respond(now, tx, parts)
    }

    /// Requests with a live response context.
    pub fn contexts_in_use(&self) -> usize {
        self.contexts.iter().filter(|c| c.in_use).count()
    }

    /// Handles one input; then drain [`poll_transmit`](Self::poll_transmit).
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        self.ep.handle(now, input);
        if let Input::Timeout = input {
            self.timer_c(now);
        }
        self.pump(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        self.ep.poll_transmit()
    }

    /// The next event for the operator.
    pub fn poll_event(&mut self) -> Option<ProxyEvent> {
        if self.ev_len == 0 {
            return None;
        }
        let e = self.events[0].take();
        self.events.rotate_left(1);
        self.ev_len -= 1;
        e
    }

    /// When to call [`handle`](Self::handle) with [`Input::Timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Timer C by a hint that may be early (a context freed or answered since), never
        // late: an early wake-up finds nothing due and sets the next hint.
        [self.ep.poll_timeout(), self.timer_c_hint]
            .into_iter()
            .flatten()
            .min()
    }

    fn emit(&mut self, e: ProxyEvent) {
        if self.ev_len == self.events.len() {
            self.events.rotate_left(1);
            self.ev_len -= 1;
        }
        self.events[self.ev_len] = Some(e);
        self.ev_len += 1;
    }

    fn pump(&mut self, now: Instant) {
        for _ in 0..256 {
            let mut scratch = core::mem::replace(&mut self.scratch, Storage::Borrowed(&mut []));
            let half = scratch.len() / 2;
            let (inbox, out) = scratch.split_at_mut(half);
            let got = self.ep.poll_event().map(|e| copy_event(e, inbox));
            let Some((kind, len)) = got else {
                self.scratch = scratch;
                return;
            };
            self.on_inbound(now, kind, &inbox[..len], out);
            self.scratch = scratch;
        }
    }

    fn on_inbound(&mut self, now: Instant, kind: Inbound, bytes: &[u8], out: &mut [u8]) {
        match kind {
            Inbound::Timeout { tx } => return self.on_branch_final(now, tx, 408, None, out),
            Inbound::Terminated { tx } => return self.on_terminated(tx),
            _ => {}
        }
        let mut h = [Header::EMPTY; 64];
        let Ok(Status::Complete(msg)) = Parser::datagram().parse(bytes, &mut h) else {
            return;
        };
        match kind {
            Inbound::Request { tx, cancels } => self.on_request(now, tx, cancels, &msg, out),
            Inbound::Ack => self.forward_stateless(now, &msg, out),
            Inbound::Response { tx } => self.on_response(now, tx, &msg, out),
            Inbound::Stray => self.forward_response_stateless(&msg, out),
            Inbound::Stateless { remote } => self.on_stateless_request(now, &msg, remote, out),
            _ => {}
        }
    }

    fn reply(&mut self, now: Instant, tx: TransactionId, code: u16, reason: &str) {
        let _ = self.ep.respond(now, tx, &ResponseParts::new(code, reason));
        self.emit(ProxyEvent::Answered { code });
    }

    fn on_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        cancels: Option<TransactionId>,
        msg: &Message<'_, '_>,
        out: &mut [u8],
    ) {
        let method = msg.method().unwrap_or("");
        if method == "CANCEL" {
            return self.on_cancel(now, tx, cancels);
        }
        if method == "REGISTER"
            && msg
                .request_uri()
                .is_some_and(|u| self.is_our_domain_host(u))
        {
            return self.emit(ProxyEvent::Register { tx });
        }
        if self.is_options_for_us(msg) {
            let mut tag = [0u8; 16];
            let tag = self.ep.rng().hex(&mut tag);
            let parts = ResponseParts {
                to_tag: Some(tag),
                extra: OPTIONS_HEADERS,
                ..ResponseParts::new(200, "OK")
            };
            let _ = self.ep.respond(now, tx, &parts);
            return self.emit(ProxyEvent::Answered { code: 200 });
        }
        // §16.3: validation (scheme 416, Max-Forwards 483, Proxy-Require 420).
        let policy = Policy {
            role: Role::Proxy,
            supported: self.config.supported,
            ..Policy::PROXY
        };
        if let Err(r) = policy.check(msg) {
            return self.reply(now, tx, r.code, r.reason);
        }
        // §16.3 item 4: a loop is our Via with this request's loop-detection hash.
        let hash = self.loop_hash(msg);
        if self.is_loop(msg, hash) {
            return self.reply(now, tx, 482, "Loop Detected");
        }
        if method == "INVITE" {
            // §16.2: answer 100 at once rather than after 200 ms.
            let _ = self.ep.respond(now, tx, &ResponseParts::new(100, "Trying"));
        }
        // §16.4 and §16.5.
        let Some(mut route) = self.routing(msg) else {
            return self.reply(now, tx, 400, "Bad Route");
        };
        route.source = self.ep.response_destination(tx).map(|d| d.remote);
        let mut targets: [Option<Target>; MAX_BRANCHES] = [None; MAX_BRANCHES];
        let n = if route.target_is_ours && route.routes_left == 0 {
            let Ok(uri) = Uri::parse(route.request_uri.as_bytes()) else {
                return self.reply(now, tx, 416, "Unsupported URI Scheme");
            };
            self.locator.targets(now, &uri, &mut targets)
        } else {
            targets[0] = Target::new(route.request_uri, 1000);
            usize::from(targets[0].is_some())
        };
        if n == 0 {
            return self.reply(now, tx, 480, "Temporarily Unavailable");
        }
        // A response context (§16.7).
        let Some(ci) = self.contexts.iter().position(|c| !c.in_use) else {
            return self.reply(now, tx, 503, "Service Unavailable");
        };
        let mut order = targets;
        if self.config.forking == Forking::Sequential {
            // Highest q first (§16.6: q-values order the target set).
            order[..n].sort_unstable_by(|a, b| b.map(|t| t.q).cmp(&a.map(|t| t.q)));
        }
        {
            let c = &mut self.contexts[ci];
            c.in_use = true;
            c.server_tx = Some(tx);
            let _ = self.ep.set_tu_tag(tx, context_tag(ci, SERVER_SLOT));
            c.invite = method == "INVITE";
            c.branches = [NO_BRANCH; MAX_BRANCHES];
            c.answered_2xx = false;
            c.cancelled = false;
            c.best_code = 0;
            c.best_len = 0;
            c.timer_c = c.invite.then(|| now + self.config.timer_c);
            if let Some(t) = c.timer_c {
                self.timer_c_hint = Some(self.timer_c_hint.map_or(t, |h| h.min(t)));
            }
            for (k, t) in order[..n].iter().enumerate() {
                c.branches[k] = BranchCtx {
                    state: BranchState::Waiting,
                    target: *t,
                    ..NO_BRANCH
                };
            }
        }
        self.branch_table_full = false;
        let started = match self.config.forking {
            Forking::Parallel => (0..n)
                .filter(|&k| self.start_branch(now, ci, k, msg, &route, hash, out))
                .count(),
            Forking::Sequential => self.start_next_branch(now, ci, msg, &route, hash, out),
        };
        if started == 0 {
            self.free_context(ci);
            if self.branch_table_full {
                // Our capacity, not the next hop: 503 with Retry-After (§21.5.4).
                let mut secs = [0u8; 10];
                let secs = decimal(self.ep.config().retry_after, &mut secs);
                let extra = [("Retry-After", secs.as_bytes())];
                let parts = ResponseParts {
                    extra: &extra,
                    ..ResponseParts::new(503, "Service Unavailable")
                };
                let _ = self.ep.respond(now, tx, &parts);
                return self.emit(ProxyEvent::Answered { code: 503 });
            }
            return self.reply(now, tx, 502, "Bad Gateway");
        }
        self.emit(ProxyEvent::Forwarded { branches: started });
    }

    fn start_next_branch(
        &mut self,
        now: Instant,
        ci: usize,
        msg: &Message<'_, '_>,
        route: &RouteInfo<'_>,
        hash: u64,
        out: &mut [u8],
    ) -> usize {
        while let Some(k) = self.contexts[ci]
            .branches
            .iter()
            .position(|b| b.state == BranchState::Waiting)
        {
            if self.start_branch(now, ci, k, msg, route, hash, out) {
                return 1;
            }
        }
        0
    }

    /// Forwards the request to branch `k`'s target (§16.6).
    #[allow(clippy::too_many_arguments)]
    fn start_branch(
        &mut self,
        now: Instant,
        ci: usize,
        k: usize,
        msg: &Message<'_, '_>,
        route: &RouteInfo<'_>,
        hash: u64,
        out: &mut [u8],
    ) -> bool {
        let Some(target) = self.contexts[ci].branches[k].target else {
            return false;
        };
        self.contexts[ci].branches[k].state = BranchState::Done;
        let r_uri = if route.target_is_ours && route.routes_left == 0 {
            target.uri()
        } else {
            route.request_uri
        };
        if self.contexts[ci].branches[k].resolved.is_none() {
            // §16.6 step 6 and RFC 3263: a next hop only DNS can find is resolved first.
            let hop = next_hop(msg, route, r_uri).map(|(_, _, hop)| hop);
            if let Some(waiting) = hop.and_then(|hop| self.resolve_hop(now, ci, k, &hop)) {
                return waiting;
            }
        }
        let branch_id = self.ep.rng().next_u64();
        self.forced_hop = self.contexts[ci].branches[k].resolved;
        let built = self.build_forward(msg, route, r_uri, hash, branch_id, out);
        self.forced_hop = None;
        let Some((dest, len, branch)) = built else {
            return false;
        };
        let Ok(bstr) = core::str::from_utf8(&branch.0[..branch.1]) else {
            return false;
        };
        match self
            .ep
            .send_request_bytes(now, dest, msg.method().unwrap_or(""), bstr, &out[..len])
        {
            Ok(btx) => {
                let _ = self.ep.set_tu_tag(btx, context_tag(ci, k));
                let b = &mut self.contexts[ci].branches[k];
                b.tx = Some(btx);
                b.state = BranchState::Trying;
                true
            }
            Err(e) => {
                self.branch_table_full |= e == crate::endpoint::EndpointError::TableFull;
                false
            }
        }
    }

    /// Builds the forwarded request into `out`; returns where it goes, its length and our
    /// branch.
    fn build_forward(
        &mut self,
        msg: &Message<'_, '_>,
        route: &RouteInfo<'_>,
        r_uri: &str,
        hash: u64,
        branch_id: u64,
        out: &mut [u8],
    ) -> Option<(Destination, usize, ([u8; 48], usize))> {
        let (request_uri, push, hop_uri) = next_hop(msg, route, r_uri)?;
        let remote = self.hop_address(&hop_uri)?;
        // §16.6 step 8: branch = cookie + loop-detection hash + a unique part.
        let mut branch = [0u8; 48];
        let blen = {
            let mut w = Writer::new(&mut branch);
            core::fmt::Write::write_fmt(
                &mut w,
                format_args!("z9hG4bK{hash:016x}.{branch_id:016x}"),
            )
            .ok()?;
            w.len()
        };
        let bstr = core::str::from_utf8(&branch[..blen]).ok()?;
        // The transport DNS chose (RFC 3263 §4.1), else the next hop's transport parameter,
        // else ours; UDP and TCP are what a proxy here sends on.
        let preferred = match self.forced_hop {
            Some(t) => t.transport,
            None => hop_uri
                .transport()
                .and_then(Transport::from_token)
                .filter(|t| matches!(t, Transport::Udp | Transport::Tcp))
                .unwrap_or(self.config.transport),
        };
        let via_for = |t: Transport, via: &mut [u8; 160]| -> Option<usize> {
            let mut w = Writer::new(via);
            core::fmt::Write::write_fmt(
                &mut w,
                format_args!(
                    "SIP/2.0/{} {};branch={}",
                    t.as_str(),
                    HostPort(self.config.local),
                    bstr
                ),
            )
            .ok()?;
            Some(w.len())
        };
        let mut via = [0u8; 160];
        let via_len = via_for(preferred, &mut via)?;
        let mut rr = [0u8; 96];
        let rr_len = {
            let mut w = Writer::new(&mut rr);
            core::fmt::Write::write_fmt(
                &mut w,
                format_args!("<sip:{};lr>", HostPort(self.config.local)),
            )
            .ok()?;
            w.len()
        };
        let received = msg
            .top_via()
            .ok()
            .flatten()
            .zip(route.source)
            .map(|(v, s)| transport::via_received(&v, s))
            .unwrap_or_default();
        let spec = ForwardSpec {
            request_uri,
            via: &via[..via_len],
            received,
            record_route: (self.config.record_route && msg.method() != Some("REGISTER"))
                .then_some(&rr[..rr_len]),
            drop_routes: route.drop_routes,
            drop_last_route: route.drop_last_route,
            strict_push: push,
        };
        let mut len = forward::write_request(msg, &spec, out).ok()?;
        // §18.1.1: too large for UDP (within 200 bytes of the path MTU, or over 1300 bytes
        // when it is unknown): TCP, and the Via says so.
        let chosen = transport::select(len, self.ep.config().path_mtu, preferred);
        if chosen != preferred {
            let mut via = [0u8; 160];
            let via_len = via_for(chosen, &mut via)?;
            let spec = ForwardSpec {
                via: &via[..via_len],
                ..spec
            };
            len = forward::write_request(msg, &spec, out).ok()?;
        }
        let dest = Destination {
            transport: chosen,
            local: self.config.local,
            remote,
        };
        Some((dest, len, (branch, blen)))
    }

    /// The next hop's address: the RFC 3263 target a branch was given, an address in the
    /// URI, or a host name the [`Locator`] knows; `None` for a name only DNS can find.
    fn hop_address(&mut self, uri: &Uri<'_>) -> Option<SocketAddr> {
        if let Some(t) = self.forced_hop {
            return Some(t.addr);
        }
        match crate::dialog::next_hop(uri)? {
            crate::dialog::NextHop::Addr(a) => Some(a),
            crate::dialog::NextHop::Resolve { host, port } => {
                self.locator.resolve(host, port, self.config.transport)
            }
        }
    }

    /// §16.4: our Request-URI (after a strict router) and our top Route.
    fn routing<'m>(&self, msg: &'m Message<'m, '_>) -> Option<RouteInfo<'m>> {
        let uri = msg.request_uri()?;
        let routes: usize = msg.routes().count();
        let mut info = RouteInfo {
            request_uri: uri.raw(),
            target_is_ours: false,
            drop_routes: 0,
            drop_last_route: false,
            routes_left: routes,
            source: None,
        };
        if self.is_us(uri) && routes > 0 {
            // The previous hop was a strict router: the last Route is the real target.
            let last = msg.routes().last()?.ok()?;
            info.request_uri = last.uri.raw();
            info.drop_last_route = true;
            info.routes_left -= 1;
        }
        if let Some(Ok(first)) = msg.routes().next() {
            if info.routes_left > 0 && self.is_us(&first.uri) {
                info.drop_routes = 1;
                info.routes_left -= 1;
            }
        }
        let target = Uri::parse(info.request_uri.as_bytes()).ok()?;
        info.target_is_ours = self.is_our_domain(&target);
        Some(info)
    }

    /// Whether a URI names this proxy (its address and port).
    fn is_us(&self, uri: &Uri<'_>) -> bool {
        let port = uri.port().unwrap_or(5060);
        let host_match = match uri.host() {
            Some(Host::Ipv4(a)) => core::net::IpAddr::V4(a) == self.config.local.ip(),
            Some(Host::Ipv6(a)) => core::net::IpAddr::V6(a) == self.config.local.ip(),
            Some(Host::Name(n)) => {
                self.config
                    .domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(n))
                    && uri.user().is_none()
            }
            None => false,
        };
        host_match && port == self.config.local.port()
    }

    /// Whether a URI's host is one of our domains, whatever its user part (a REGISTER's
    /// Request-URI has none, §10.2).
    /// Our own address counts too, on our port (`REGISTER sip:192.0.2.4`, as SIPp and
    /// most phones send when configured with an address rather than a domain).
    fn is_our_domain_host(&self, uri: &Uri<'_>) -> bool {
        let ours = |ip: core::net::IpAddr| {
            ip == self.config.local.ip() && uri.port().is_none_or(|p| p == self.config.local.port())
        };
        match uri.host() {
            Some(Host::Name(n)) => self
                .config
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(n)),
            Some(Host::Ipv4(a)) => ours(core::net::IpAddr::V4(a)),
            Some(Host::Ipv6(a)) => ours(core::net::IpAddr::V6(a)),
            None => false,
        }
    }

    /// An OPTIONS whose Request-URI names this server rather than a user (§11: "OPTIONS
    /// sip:carol@chicago.com" asks a user; with no user part it asks the server itself,
    /// which answers as a UAS, §11.2: 200 with Allow, Accept and Supported).
    /// With a Route left, our URI in the Request-URI is a strict router's doing (§16.4):
    /// the request goes on.
    fn is_options_for_us(&self, msg: &Message<'_, '_>) -> bool {
        msg.method() == Some("OPTIONS")
            && msg.routes().next().is_none()
            && msg
                .request_uri()
                .is_some_and(|u| u.is_sip() && u.user().is_none() && self.is_our_domain_host(u))
    }

    fn is_our_domain(&self, uri: &Uri<'_>) -> bool {
        match uri.host() {
            Some(Host::Name(n)) => self
                .config
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(n)),
            // A user at our address and port: `sip:bob@127.0.0.1:5070` is another server's
            // user when we are 127.0.0.1:5060.
            Some(Host::Ipv4(a)) => {
                core::net::IpAddr::V4(a) == self.config.local.ip()
                    && uri.port().unwrap_or(5060) == self.config.local.port()
                    && uri.user().is_some()
            }
            Some(Host::Ipv6(a)) => {
                core::net::IpAddr::V6(a) == self.config.local.ip()
                    && uri.port().unwrap_or(5060) == self.config.local.port()
                    && uri.user().is_some()
            }
            _ => false,
        }
    }

    /// §16.6 item 8: the loop-detection part of the branch: a hash over the fields that
    /// change only in a loop (Request-URI, top Via sent-by... here: To tag, From tag,
    /// Call-ID, CSeq number, the Request-URI as received, Proxy-Require and
    /// Proxy-Authorization, Route).
    fn loop_hash(&self, msg: &Message<'_, '_>) -> u64 {
        let mut h = KeyHasher::new(
            0x5157_1337,
            0x3261_2002,
            crate::transaction::key::KeyKind::Client,
        );
        h.field(msg.request_uri().map(|u| u.raw().as_bytes()).unwrap_or(b""));
        h.field(msg.to().ok().and_then(|t| t.tag()).unwrap_or("").as_bytes());
        h.field(
            msg.from()
                .ok()
                .and_then(|t| t.tag())
                .unwrap_or("")
                .as_bytes(),
        );
        h.field(msg.call_id().unwrap_or("").as_bytes());
        h.field(&msg.cseq().map(|c| c.seq).unwrap_or(0).to_be_bytes());
        for name in [
            HeaderName::ProxyRequire,
            HeaderName::ProxyAuthorization,
            HeaderName::Route,
        ] {
            for v in msg.values(name) {
                h.field(v);
            }
        }
        h.finish().0
    }

    fn is_loop(&self, msg: &Message<'_, '_>, hash: u64) -> bool {
        let mut want = [0u8; 16];
        let mut w = Writer::new(&mut want);
        if core::fmt::Write::write_fmt(&mut w, format_args!("{hash:016x}")).is_err() {
            return false;
        }
        let want = w.finish();
        msg.vias().flatten().any(|v| {
            let ours = match v.host {
                Host::Ipv4(a) => core::net::IpAddr::V4(a) == self.config.local.ip(),
                Host::Ipv6(a) => core::net::IpAddr::V6(a) == self.config.local.ip(),
                Host::Name(_) => false,
            } && v.port.unwrap_or(5060) == self.config.local.port();
            ours && v
                .branch()
                .and_then(|b| b.strip_prefix("z9hG4bK"))
                .is_some_and(|b| b.as_bytes().get(..16) == Some(want))
        })
    }

    /// §16.10: 200 to the CANCEL, then CANCEL every pending branch (after its provisional).
    fn on_cancel(&mut self, now: Instant, tx: TransactionId, cancels: Option<TransactionId>) {
        let ci = cancels.and_then(|inv| self.find_server(inv));
        let Some(ci) = ci else {
            return self.reply(now, tx, 481, "Call/Transaction Does Not Exist");
        };
        let _ = self.ep.respond(now, tx, &ResponseParts::new(200, "OK"));
        self.cancel_branches(now, ci);
    }

    fn cancel_branches(&mut self, now: Instant, ci: usize) {
        self.contexts[ci].cancelled = true;
        for k in 0..MAX_BRANCHES {
            let b = self.contexts[ci].branches[k];
            match b.state {
                BranchState::Proceeding => {
                    if let Some(t) = b.tx {
                        let _ = self.ep.send_cancel(now, t);
                    }
                }
                // §16.10: no CANCEL before a provisional; send it when one comes.
                BranchState::Trying => self.contexts[ci].branches[k].cancel_pending = true,
                BranchState::Waiting | BranchState::Resolving => {
                    self.contexts[ci].branches[k].state = BranchState::Done
                }
                _ => {}
            }
        }
    }

    /// The context and branch of a client transaction, by the tag it was filed under.
    fn find_branch(&self, tx: TransactionId) -> Option<(usize, usize)> {
        let (ci, k) = untag(self.ep.tu_tag(tx)?)?;
        let c = self.contexts.get(ci)?;
        (c.in_use && c.branches.get(k)?.tx == Some(tx)).then_some((ci, k))
    }

    /// The context whose server transaction this is.
    fn find_server(&self, tx: TransactionId) -> Option<usize> {
        let (ci, k) = untag(self.ep.tu_tag(tx)?)?;
        let c = self.contexts.get(ci)?;
        (k == SERVER_SLOT && c.in_use && c.server_tx == Some(tx)).then_some(ci)
    }

    /// §16.7: a response on a branch.
    fn on_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        msg: &Message<'_, '_>,
        out: &mut [u8],
    ) {
        let Some(code) = msg.status() else { return };
        let Some((ci, k)) = self.find_branch(tx) else {
            if (200..300).contains(&code) {
                self.forward_response_stateless(msg, out);
            }
            return;
        };
        let cseq_cancel = msg.cseq().is_ok_and(|c| c.method == "CANCEL");
        if cseq_cancel {
            return;
        }
        match code {
            100 => self.provisional(now, ci, k),
            101..=199 => {
                self.provisional(now, ci, k);
                // §16.8: Timer C restarts with each provisional response but 100 (the
                // hint may now be early, which is harmless).
                let c = &mut self.contexts[ci];
                if c.timer_c.is_some() {
                    c.timer_c = Some(now + self.config.timer_c);
                }
                self.pass_back(now, ci, code, msg, out);
            }
            200..=299 => {
                self.contexts[ci].branches[k].state = BranchState::Done;
                self.contexts[ci].answered_2xx = true;
                self.pass_back(now, ci, code, msg, out);
                // §16.7 step 10: a 2xx to an INVITE cancels the other branches.
                if self.contexts[ci].invite {
                    self.cancel_branches(now, ci);
                }
                self.maybe_finish(now, ci, out);
            }
            _ => self.on_branch_final(now, tx, code, Some(msg), out),
        }
    }

    fn provisional(&mut self, now: Instant, ci: usize, k: usize) {
        let b = &mut self.contexts[ci].branches[k];
        if b.state == BranchState::Trying {
            b.state = BranchState::Proceeding;
        }
        if b.cancel_pending {
            b.cancel_pending = false;
            if let Some(t) = b.tx {
                let _ = self.ep.send_cancel(now, t);
            }
        }
    }

    /// A final non-2xx on a branch (or its timeout, as 408): keep it if it is the best so
    /// far (§16.7 step 6), try the next target when forking sequentially.
    fn on_branch_final(
        &mut self,
        now: Instant,
        tx: TransactionId,
        code: u16,
        msg: Option<&Message<'_, '_>>,
        out: &mut [u8],
    ) {
        let Some((ci, k)) = self.find_branch(tx) else {
            return;
        };
        if self.contexts[ci].branches[k].state == BranchState::Done && msg.is_none() {
            return;
        }
        // RFC 3263 §4.3: a timeout, a transport failure or a 503 sends the request to the
        // branch's next target; only when none is left is this the branch's answer.
        if (msg.is_none() || code == 503) && self.fail_over(now, ci, k) {
            return;
        }
        self.contexts[ci].branches[k].state = BranchState::Done;
        let c = &mut self.contexts[ci];
        let challenge = |x: u16| x == 401 || x == 407;
        if better(code, c.best_code)
            || (challenge(code) && !challenge(c.best_code) && code / 100 == c.best_code / 100)
        {
            // A 401/407 is preferred within 4xx so its challenges reach the client (§16.7
            // step 6 leaves the choice within a class to the proxy).
            c.best_code = code;
            c.best_len = 0;
            if let Some(m) = msg {
                if let Ok(n) = forward::write_response_without_top_via(m, &mut c.best) {
                    c.best_len = n;
                }
            }
        } else if challenge(code) && challenge(c.best_code) && c.best_len > 0 {
            // §16.7 step 7: every branch's WWW-Authenticate and Proxy-Authenticate go into
            // the one response sent upstream.
            if let Some(m) = msg {
                c.best_len = forward::merge_challenges(&mut c.best, c.best_len, m);
            }
        }
        // §16.7 step 5 and 10: a 6xx ends the search.
        if (600..700).contains(&code) {
            self.cancel_branches(now, ci);
        }
        self.maybe_finish(now, ci, out);
        let _ = out;
    }

    /// When no branch is pending, send the best response (or start the next sequential
    /// branch).
    fn maybe_finish(&mut self, now: Instant, ci: usize, _out: &mut [u8]) {
        let c = &self.contexts[ci];
        if c.branches.iter().any(|b| {
            matches!(
                b.state,
                BranchState::Trying | BranchState::Proceeding | BranchState::Resolving
            )
        }) {
            return;
        }
        if !c.answered_2xx
            && !(600..700).contains(&c.best_code)
            && c.branches.iter().any(|b| b.state == BranchState::Waiting)
        {
            // Sequential forking: the request is rebuilt from the server transaction.
            if let Some(stx) = c.server_tx {
                self.restart_from_server(now, ci, stx);
            }
            return;
        }
        if self.contexts[ci].answered_2xx {
            // Nothing is left to decide. A 2xx retransmitted later on a branch (its client
            // transaction Accepted, RFC 6026) finds no context and is passed back
            // statelessly by its Via (§16.7 step 5, §16.11), so the context is free now.
            self.free_context(ci);
            return;
        }
        let stx = self.contexts[ci].server_tx;
        self.free_context(ci);
        let c = &self.contexts[ci];
        let Some(stx) = stx else { return };
        let code = match c.best_code {
            0 => 408,
            // §16.7 step 6: a lone 503 is turned into 500.
            503 => 500,
            n => n,
        };
        if c.best_len > 0 && code == c.best_code {
            let len = c.best_len;
            let mut buf = [0u8; BEST_LEN];
            buf[..len].copy_from_slice(&c.best[..len]);
            let _ = self.ep.respond_bytes(now, stx, code, &buf[..len]);
        } else {
            let _ = self
                .ep
                .respond(now, stx, &ResponseParts::new(code, reason(code)));
        }
    }

    /// Sequential forking: forwards the next target, reading the request again from the
    /// server transaction.
    fn restart_from_server(&mut self, now: Instant, ci: usize, stx: TransactionId) {
        self.restart_branch(now, ci, None, stx);
    }

    /// Forwards branch `k` (or the next waiting one), reading the request again from the
    /// server transaction.
    fn restart_branch(&mut self, now: Instant, ci: usize, k: Option<usize>, stx: TransactionId) {
        let started = self.try_restart_branch(now, ci, k, stx).unwrap_or(0);
        if started == 0 {
            // The request could not be forwarded again (it no longer reads back, or is
            // larger than the rebuild buffer): the branch fails, so the request still gets
            // a final response rather than hanging.
            for (j, b) in self.contexts[ci].branches.iter_mut().enumerate() {
                if k.is_none_or(|k| k == j) && b.state == BranchState::Waiting {
                    b.state = BranchState::Done;
                }
            }
            self.maybe_finish(now, ci, &mut []);
        }
    }

    /// Reads the request back from the server transaction and forwards branch `k` (or the
    /// next waiting one); how many branches started, `None` if the request is unreadable.
    fn try_restart_branch(
        &mut self,
        now: Instant,
        ci: usize,
        k: Option<usize>,
        stx: TransactionId,
    ) -> Option<usize> {
        let req = self.ep.request_bytes(stx)?;
        let mut copy = [0u8; 4096];
        let copy = copy.get_mut(..req.len())?;
        copy.copy_from_slice(req);
        let mut h = [Header::EMPTY; 64];
        let Ok(Status::Complete(msg)) = Parser::datagram().parse(copy, &mut h) else {
            return None;
        };
        let mut route = self.routing(&msg)?;
        route.source = self.ep.response_destination(stx).map(|d| d.remote);
        let hash = self.loop_hash(&msg);
        let mut out = [0u8; 4096];
        Some(match k {
            Some(k) => usize::from(self.start_branch(now, ci, k, &msg, &route, hash, &mut out)),
            None => self.start_next_branch(now, ci, &msg, &route, hash, &mut out),
        })
    }

    /// §16.7 step 3–9: pass a response back without our Via.
    fn pass_back(
        &mut self,
        now: Instant,
        ci: usize,
        code: u16,
        msg: &Message<'_, '_>,
        out: &mut [u8],
    ) {
        let Some(stx) = self.contexts[ci].server_tx else {
            return;
        };
        if let Ok(n) = forward::write_response_without_top_via(msg, out) {
            let _ = self.ep.respond_bytes(now, stx, code, &out[..n]);
        }
    }

    fn on_terminated(&mut self, tx: TransactionId) {
        if let Some(ci) = self.find_server(tx) {
            self.contexts[ci].server_tx = None;
        }
    }

    /// Timer C (§16.8): an INVITE branch with no final response for too long is cancelled
    /// (or, without a provisional, treated as 408).
    fn timer_c(&mut self, now: Instant) {
        if self.timer_c_hint.is_none_or(|t| t > now) {
            return;
        }
        self.timer_c_hint = None;
        for ci in 0..self.contexts.len() {
            let c = &self.contexts[ci];
            let Some(t) = c.timer_c.filter(|_| c.in_use) else {
                continue;
            };
            if t > now {
                // The earliest one still to come is the next time to look.
                self.timer_c_hint = Some(self.timer_c_hint.map_or(t, |h| h.min(t)));
                continue;
            }
            self.contexts[ci].timer_c = None;
            self.cancel_branches(now, ci);
        }
    }

    /// The ACK for a 2xx (and any request in stateless mode) is forwarded without a
    /// transaction (§16.11): by Route, else by Request-URI.
    fn forward_stateless(&mut self, now: Instant, msg: &Message<'_, '_>, out: &mut [u8]) {
        let Some(route) = self.routing(msg) else {
            return;
        };
        // An ACK without Route for a user of ours (from a UAC that ignored Record-Route)
        // finds the user the way its INVITE did: by the location service (§16.5).
        let mut copy = [0u8; TARGET_LEN];
        let Some(r_uri) = self.stateless_target(now, &route, &mut copy) else {
            return;
        };
        self.forward_stateless_to(now, msg, &route, r_uri, out);
    }

    /// The Request-URI a request goes to without state (§16.11: one target, and for a URI
    /// of ours the binding with the highest q, picked the same way every time), copied
    /// into `buf`; `None` when our location service has no binding for it.
    fn stateless_target<'b>(
        &mut self,
        now: Instant,
        route: &RouteInfo<'_>,
        buf: &'b mut [u8; TARGET_LEN],
    ) -> Option<&'b str> {
        let mut targets: [Option<Target>; MAX_BRANCHES] = [None; MAX_BRANCHES];
        let text = if route.target_is_ours && route.routes_left == 0 {
            let uri = Uri::parse(route.request_uri.as_bytes()).ok()?;
            if self.locator.targets(now, &uri, &mut targets) == 0 {
                return None;
            }
            targets.sort_unstable_by(|a, b| b.map(|t| t.q).cmp(&a.map(|t| t.q)));
            targets[0].as_ref()?.uri()
        } else {
            route.request_uri
        };
        buf.get_mut(..text.len())?.copy_from_slice(text.as_bytes());
        core::str::from_utf8(buf.get(..text.len())?).ok()
    }

    fn forward_stateless_to(
        &mut self,
        _now: Instant,
        msg: &Message<'_, '_>,
        route: &RouteInfo<'_>,
        r_uri: &str,
        out: &mut [u8],
    ) {
        let hash = self.loop_hash(msg);
        // A stateless branch must be the same for retransmissions (§16.11): derived from the
        // request, here from the loop hash and the incoming top branch.
        let incoming = msg
            .top_via()
            .ok()
            .flatten()
            .and_then(|v| v.branch())
            .unwrap_or("");
        let mut h = KeyHasher::new(1, 2, crate::transaction::key::KeyKind::Client);
        h.field(incoming.as_bytes());
        let id = h.finish().0;
        let Some((dest, len, _)) = self.build_forward(msg, route, r_uri, hash, id, out) else {
            return;
        };
        let _ = self
            .ep
            .send_stateless(dest.transport, dest.local, dest.remote, &out[..len]);
    }

    /// §16.11: a stateless proxy validates, then forwards to one target (it cannot fork),
    /// with a branch derived from the request so retransmissions take the same one.
    fn on_stateless_request(
        &mut self,
        now: Instant,
        msg: &Message<'_, '_>,
        remote: SocketAddr,
        out: &mut [u8],
    ) {
        let policy = Policy {
            role: Role::Proxy,
            supported: self.config.supported,
            ..Policy::PROXY
        };
        if msg.method() != Some("ACK") {
            if let Err(r) = policy.check(msg) {
                return self.answer_stateless(msg, r.code, r.reason, remote, out);
            }
            if self.is_loop(msg, self.loop_hash(msg)) {
                return self.answer_stateless(msg, 482, "Loop Detected", remote, out);
            }
            if self.is_options_for_us(msg) {
                // The same tag for a retransmission: derived from the request (§16.11).
                let mut tag = [0u8; 16];
                let tag = hex_token(self.loop_hash(msg), &mut tag);
                let parts = ResponseParts {
                    to_tag: Some(tag),
                    extra: OPTIONS_HEADERS,
                    ..ResponseParts::new(200, "OK")
                };
                return self.answer_stateless_with(msg, &parts, remote, out);
            }
        }
        let Some(mut route) = self.routing(msg) else {
            return;
        };
        route.source = Some(remote);
        let mut copy = [0u8; TARGET_LEN];
        let Some(r_uri) = self.stateless_target(now, &route, &mut copy) else {
            return self.answer_stateless(msg, 480, "Temporarily Unavailable", remote, out);
        };
        self.forward_stateless_to(now, msg, &route, r_uri, out);
        self.emit(ProxyEvent::Forwarded { branches: 1 });
    }

    /// A response from a stateless proxy itself, to the top Via (§18.2.2).
    fn answer_stateless(
        &mut self,
        msg: &Message<'_, '_>,
        code: u16,
        reason: &str,
        remote: SocketAddr,
        out: &mut [u8],
    ) {
        self.answer_stateless_with(msg, &ResponseParts::new(code, reason), remote, out);
    }

    fn answer_stateless_with(
        &mut self,
        msg: &Message<'_, '_>,
        parts: &ResponseParts<'_>,
        remote: SocketAddr,
        out: &mut [u8],
    ) {
        let code = parts.code;
        if msg.method() == Some("ACK") {
            return;
        }
        let target = match msg.top_via() {
            Ok(Some(v)) => match transport::response_target(&v, remote, self.config.transport) {
                transport::ResponseTarget::Addr(a) => a,
                _ => remote,
            },
            _ => remote,
        };
        if let Ok(bytes) = parts.write(msg.headers(), out) {
            let n = bytes.len();
            let _ =
                self.ep
                    .send_stateless(self.config.transport, self.config.local, target, &out[..n]);
        }
        self.emit(ProxyEvent::Answered { code });
    }

    /// A response no branch matches (a 2xx retransmission after the branch ended): pass it
    /// on statelessly by the next Via (§16.7, §16.11).
    fn forward_response_stateless(&mut self, msg: &Message<'_, '_>, out: &mut [u8]) {
        let mut vias = msg.vias().flatten();
        let Some(top) = vias.next() else { return };
        let ours = match top.host {
            Host::Ipv4(a) => core::net::IpAddr::V4(a) == self.config.local.ip(),
            _ => false,
        };
        let Some(next) = vias.next() else { return };
        if !ours {
            return;
        }
        let target = match transport::response_target_from_via(&next, self.config.transport) {
            transport::ResponseTarget::Addr(a) => a,
            transport::ResponseTarget::Connection { fallback: Some(a) } => a,
            _ => return,
        };
        if let Ok(n) = forward::write_response_without_top_via(msg, out) {
            let _ =
                self.ep
                    .send_stateless(self.config.transport, self.config.local, target, &out[..n]);
        }
    }
}

/// §16.7 step 6: 6xx beats everything, then the lowest class; within a class the first.
fn better(code: u16, best: u16) -> bool {
    if best == 0 {
        return true;
    }
    let class = |c: u16| if c >= 600 { 0 } else { c / 100 };
    class(code) < class(best)
}

fn reason(code: u16) -> &'static str {
    match code {
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        500 => "Server Internal Error",
        _ => "Error",
    }
}

/// §16.6 step 6: the Request-URI to send, the URI to push as the last Route (a strict next
/// hop), and the next hop's URI: the first remaining Route, or the Request-URI; a strict
/// router (no `lr`) becomes the Request-URI and the old one goes last.
fn next_hop<'a>(
    msg: &Message<'a, '_>,
    route: &RouteInfo<'_>,
    r_uri: &'a str,
) -> Option<(&'a str, Option<&'a str>, Uri<'a>)> {
    let next_route = msg
        .routes()
        .skip(route.drop_routes)
        .take(route.routes_left)
        .next()
        .and_then(|r| r.ok());
    Some(match next_route {
        Some(r) if !r.uri.lr() => (r.uri.raw(), Some(r_uri), r.uri),
        Some(r) => (r_uri, None, r.uri),
        None => (r_uri, None, Uri::parse(r_uri.as_bytes()).ok()?),
    })
}

/// Routing facts about a received request.
struct RouteInfo<'m> {
    request_uri: &'m str,
    target_is_ours: bool,
    drop_routes: usize,
    drop_last_route: bool,
    routes_left: usize,
    source: Option<SocketAddr>,
}

/// `ip:port` with IPv6 in brackets.
struct HostPort(SocketAddr);

impl core::fmt::Display for HostPort {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            SocketAddr::V4(a) => write!(f, "{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => write!(f, "[{}]:{}", a.ip(), a.port()),
        }
    }
}

fn copy_event(e: Event<'_>, inbox: &mut [u8]) -> (Inbound, usize) {
    let (kind, bytes): (Inbound, &[u8]) = match e {
        Event::Request { tx, bytes, cancels } => (Inbound::Request { tx, cancels }, bytes),
        Event::Response { tx, bytes } => (Inbound::Response { tx }, bytes),
        Event::Ack { bytes, .. } => (Inbound::Ack, bytes),
        Event::StrayResponse { bytes, .. } => (Inbound::Stray, bytes),
        Event::StatelessRequest { bytes, remote } => (Inbound::Stateless { remote }, bytes),
        Event::Timeout { tx } | Event::TransportError { tx } => (Inbound::Timeout { tx }, &[][..]),
        Event::Terminated { tx } => (Inbound::Terminated { tx }, &[][..]),
    };
    match inbox.get_mut(..bytes.len()) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            (kind, bytes.len())
        }
        None => (kind, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_headers_and_tags() {
        let mut b = [0u8; 10];
        assert_eq!(decimal(0, &mut b), "0");
        assert_eq!(decimal(5, &mut b), "5");
        assert_eq!(decimal(u32::MAX, &mut b), "4294967295");
        let mut h = [0u8; 16];
        assert_eq!(hex_token(0x0123_4567_89ab_cdef, &mut h), "0123456789abcdef");
    }

    #[test]
    fn context_tags_round_trip() {
        assert_eq!(untag(0), None);
        for (ci, k) in [(0, 0), (0, SERVER_SLOT), (4095, 3), (1 << 20, 1)] {
            assert_eq!(untag(context_tag(ci, k)), Some((ci, k)));
        }
    }
}
