//! The receive path: parse, validate, match to a transaction (§17.1.3, §17.2.3) or create
//! one, and answer what cannot be processed (400, 503, 513) statelessly.

use core::net::SocketAddr;

use super::output::{EventKind, Pending, Region, ScratchEvent};
use super::pool::NO_REGION;
use super::{Endpoint, Tx, MAX_HEADERS};
use crate::message::builder::ResponseParts;
use crate::message::validate::{self, Policy, Rejection};
#[cfg(feature = "rfc2543")]
use crate::message::HeaderName;
use crate::message::{Framing, Header, Message, Parser, Status};
use crate::time::Instant;
#[cfg(feature = "rfc2543")]
use crate::transaction::key::KeyHasher;
use crate::transaction::key::{key_method, write_sent_by, KeyKind, TransactionKey};
use crate::transaction::{Machine, ServerInviteTransaction, ServerNonInviteTransaction, SlotId};
use crate::transport::{self, ResponseTarget, Transport};

impl Endpoint<'_> {
    pub(super) fn receive(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) {
        self.stats.received += 1;
        if transport::is_keepalive(bytes) {
            return;
        }
        let framing = if transport.is_reliable() {
            Framing::Stream
        } else {
            Framing::Datagram
        };
        let parser = Parser::new(framing).max_size(self.config.max_message);
        let mut headers = [Header::EMPTY; MAX_HEADERS];
        match parser.parse(bytes, &mut headers) {
            Ok(Status::Complete(msg)) if msg.is_request() => {
                self.receive_request(now, transport, local, remote, &msg)
            }
            Ok(Status::Complete(msg)) => self.receive_response(now, remote, transport, local, &msg),
            Ok(Status::Partial) | Err(_) => {
                self.stats.malformed += 1;
                let err = match parser.parse(bytes, &mut headers) {
                    Err(e) => e,
                    _ => crate::message::ParseError::Truncated,
                };
                // §8.2 / §16.3: answer a malformed request if enough of it is readable; a
                // malformed response is dropped (§18.1.2).
                let mut head_slots = [Header::EMPTY; MAX_HEADERS];
                if let Ok(Status::Complete(head)) =
                    Parser::new(framing).parse_head(bytes, &mut head_slots)
                {
                    let is_ack = head.start_line.starts_with(b"ACK ");
                    if head.is_request && !is_ack {
                        let r = Rejection {
                            code: err.status_code().unwrap_or(400),
                            reason: err.reason(),
                            header: None,
                        };
                        self.answer_stateless(head.headers, r, transport, local, remote);
                    }
                }
            }
        }
    }

    fn receive_request(
        &mut self,
        now: Instant,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        msg: &Message<'_, '_>,
    ) {
        let method = msg.method().unwrap_or("");
        if let Err(r) = validate::request(msg) {
            self.stats.malformed += 1;
            if method != "ACK" {
                self.answer_stateless(msg.headers(), r, transport, local, remote);
            }
            return;
        }
        if self.config.stateless {
            // §16.11: no transaction; the TU forwards or answers it statelessly.
            self.deliver_scratch(
                ScratchEvent::StatelessRequest,
                msg,
                transport,
                local,
                remote,
            );
            return;
        }
        let Some((key, rfc2543)) = self.server_key(msg, method) else {
            // Without feature `rfc2543` a request whose top Via has no `z9hG4bK` branch
            // (§8.1.1.7: an RFC 2543 element sent it) cannot be matched to a transaction
            // (§17.2.3): it is refused statelessly, each retransmission alike, and its ACK
            // dropped.
            #[cfg(not(feature = "rfc2543"))]
            if method != "ACK" {
                // "Bad Request" without feature `detailed-reasons`.
                let r = Rejection::new(400, "RFC 2543 Request Not Supported", None);
                self.answer_stateless(msg.headers(), r, transport, local, remote);
            }
            return;
        };
        if let Some(id) = self.table.find(key) {
            self.retransmission_or_ack(now, id, method, msg, remote, transport, local);
            return;
        }
        if method == "ACK" {
            // No INVITE transaction: the ACK for a 2xx goes to the TU (§17.2.3, §13.3.1.4).
            self.deliver_scratch(ScratchEvent::Ack, msg, transport, local, remote);
            return;
        }
        // A new server transaction (§17.2).
        let bytes = msg_bytes(msg);
        if bytes.len() > self.config.max_message {
            let r = Rejection {
                code: 513,
                reason: "Message Too Large",
                header: None,
            };
            self.answer_stateless(msg.headers(), r, transport, local, remote);
            return;
        }
        let Ok(Some(via)) = msg.top_via() else {
            return;
        };
        let via_received = transport::via_received(&via, remote);
        let target = match transport::response_target(&via, remote, transport) {
            ResponseTarget::Addr(a) | ResponseTarget::Multicast { addr: a, .. } => a,
            // A stream response goes back on the connection the request came on (§18.2.2);
            // a sent-by we would have to resolve is answered at the packet's source.
            ResponseTarget::Connection { .. } | ResponseTarget::Resolve { .. } => remote,
        };
        let reliable = transport.is_reliable();
        let (machine, fx) = if method == "INVITE" {
            let (m, fx) = ServerInviteTransaction::start(now, reliable, self.config.timers);
            (Machine::ServerInvite(m), fx)
        } else {
            let (m, fx) = ServerNonInviteTransaction::start(reliable, self.config.timers);
            (Machine::ServerNonInvite(m), fx)
        };
        let tx = Tx {
            machine,
            transport,
            local,
            remote: target,
            request: NO_REGION,
            response: NO_REGION,
            reserved: 0,
            request_len: bytes.len(),
            response_len: 0,
            via_received,
            rfc2543,
            deadline: None,
            ending: false,
            queued_transmits: 0,
            reap: false,
            tu_tag: 0,
        };
        // §21.5.4: a full table, or no region for the request and its response, is a 503.
        let inserted = if self.can_admit() {
            self.table.insert(key, tx).ok()
        } else {
            None
        };
        let id = match inserted {
            Some(id) if self.admit(id) => id,
            other => {
                if let Some(id) = other {
                    self.remove_tx(id);
                }
                self.stats.rejected_full += 1;
                self.answer_full(msg, transport, local, remote);
                return;
            }
        };
        let Some(r) = self.table.get(id).map(|t| t.request) else {
            return;
        };
        let range = self.pool_bytes(r, bytes.len());
        if let Some(dst) = self.arena.get_mut(range) {
            dst.copy_from_slice(bytes);
        }
        let cancels = if method == "CANCEL" {
            self.server_key(msg, "INVITE")
                .and_then(|(k, _)| self.table.find(k))
                .filter(|&c| c != id)
        } else {
            None
        };
        // The machine's deliver effect is this Request event, with the CANCEL's match.
        let fx = crate::transaction::Effects {
            deliver: false,
            ..fx
        };
        self.push(Pending::Event {
            id,
            kind: EventKind::Request { cancels },
        });
        self.apply(now, id, fx);
    }

    #[allow(clippy::too_many_arguments)]
    fn retransmission_or_ack(
        &mut self,
        now: Instant,
        id: SlotId,
        method: &str,
        msg: &Message<'_, '_>,
        remote: SocketAddr,
        transport: Transport,
        local: SocketAddr,
    ) {
        let Some(t) = self.table.get_mut(id) else {
            return;
        };
        if t.ending {
            return;
        }
        let fx = match (&mut t.machine, method) {
            (Machine::ServerInvite(m), "ACK") => m.on_ack(now, &self.config.timers),
            (Machine::ServerInvite(m), _) => m.on_request(),
            (Machine::ServerNonInvite(m), _) => m.on_request(),
            _ => return,
        };
        if fx.transmit {
            self.stats.retransmissions += 1;
        }
        if fx.deliver {
            // RFC 6026 §8.7: the ACK for a 2xx in Accepted goes to the TU.
            self.deliver_scratch(ScratchEvent::Ack, msg, transport, local, remote);
        }
        self.apply(
            now,
            id,
            crate::transaction::Effects {
                deliver: false,
                ..fx
            },
        );
    }

    fn receive_response(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        transport: Transport,
        local: SocketAddr,
        msg: &Message<'_, '_>,
    ) {
        if validate::response(msg).is_err() {
            // §18.1.2: a malformed response is dropped silently.
            self.stats.malformed += 1;
            return;
        }
        let (Ok(Some(via)), Ok(cseq), Some(code)) = (msg.top_via(), msg.cseq(), msg.status())
        else {
            return;
        };
        let Some(branch) = via.branch() else {
            self.deliver_scratch(ScratchEvent::StrayResponse, msg, transport, local, remote);
            return;
        };
        // §17.1.3: the branch and the CSeq method.
        let mut h = self.hasher(KeyKind::Client);
        h.field(branch.as_bytes());
        h.field(cseq.method.as_bytes());
        let key = h.finish();
        let Some(id) = self.table.find(key) else {
            self.deliver_scratch(ScratchEvent::StrayResponse, msg, transport, local, remote);
            return;
        };
        let bytes = msg_bytes(msg);
        let Some(t) = self.table.get_mut(id) else {
            return;
        };
        if t.ending {
            return;
        }
        let fx = match &mut t.machine {
            Machine::ClientInvite(m) => m.on_response(now, &self.config.timers, code),
            Machine::ClientNonInvite(m) => m.on_response(now, &self.config.timers, code),
            _ => return,
        };
        if (fx.deliver || fx.send_ack) && bytes.len() <= self.config.max_message {
            // Within the state's budget, so the region is there (see `pool`).
            if let Ok(r) = self.response_region(id) {
                let range = self.pool_bytes(r, bytes.len());
                if let Some(dst) = self.arena.get_mut(range) {
                    dst.copy_from_slice(bytes);
                    if let Some(t) = self.table.get_mut(id) {
                        t.response_len = bytes.len();
                    }
                }
            }
        }
        self.apply(now, id, fx);
    }

    /// The server transaction key (§17.2.3): branch + sent-by + method when the branch has
    /// the magic cookie, else the RFC 2543 fields (`None` without feature `rfc2543`).
    /// Returns whether it is the 2543 form.
    pub(super) fn server_key(
        &self,
        msg: &Message<'_, '_>,
        method: &str,
    ) -> Option<(TransactionKey, bool)> {
        let via = msg.top_via().ok()??;
        match via.branch() {
            // A branch of the cookie alone is not unique (RFC 4475 §3.2.1): 2543 rules.
            Some(b) if b.len() > 7 && via.has_magic_cookie() => {
                let mut h = self.hasher(KeyKind::Server);
                h.field(b.as_bytes());
                write_sent_by(&mut h, &via);
                h.field(key_method(method).as_bytes());
                Some((h.finish(), false))
            }
            #[cfg(not(feature = "rfc2543"))]
            _ => None,
            #[cfg(feature = "rfc2543")]
            _ => {
                let is_ack = method == "ACK";
                let to_tag = msg.to().ok()?.tag().unwrap_or("");
                let h = self.hasher(KeyKind::Server2543);
                let k = if is_ack {
                    rfc2543_key(h, msg, true, to_tag)?
                } else {
                    rfc2543_key_method(h, msg, key_method(method), to_tag)?
                };
                Some((k, true))
            }
        }
    }

    /// Copies a message into a scratch region and queues it as a stateless event.
    fn deliver_scratch(
        &mut self,
        event: ScratchEvent,
        msg: &Message<'_, '_>,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let bytes = msg_bytes(msg);
        let Some(r) = self.take_scratch() else {
            return;
        };
        let region = self.region_mut(Region::Scratch(r));
        let Some(dst) = region.get_mut(..bytes.len()) else {
            self.free_scratch(r);
            return;
        };
        dst.copy_from_slice(bytes);
        self.fill_scratch(r, bytes.len(), transport, local, remote);
        self.push(Pending::Scratch {
            region: r,
            event: Some(event),
        });
    }

    /// Answers a request statelessly (no transaction) with a rejection.
    fn answer_stateless(
        &mut self,
        headers: &[Header<'_>],
        r: Rejection,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let Some(k) = self.take_scratch() else {
            return;
        };
        let range = self.region_range(Region::Scratch(k));
        let Some(out) = self.arena.get_mut(range) else {
            self.free_scratch(k);
            return;
        };
        let written = r
            .write(headers, &Policy::UAS, None, out)
            .map(|out| out.len());
        self.queue_scratch_transmit(k, written.ok(), transport, local, remote);
    }

    /// Queues what was written into scratch region `k` for sending, or frees the region
    /// when nothing could be written.
    fn queue_scratch_transmit(
        &mut self,
        k: usize,
        len: Option<usize>,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        match len {
            Some(len) => {
                self.fill_scratch(k, len, transport, local, remote);
                self.push(Pending::Scratch {
                    region: k,
                    event: None,
                })
            }
            None => self.free_scratch(k),
        }
    }

    /// §21.5.4: the table is full; 503 with Retry-After.
    fn answer_full(
        &mut self,
        msg: &Message<'_, '_>,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let Some(k) = self.take_scratch() else {
            return;
        };
        let mut digits = [0u8; 10];
        let secs = fmt_u32(self.config.retry_after, &mut digits);
        let extra = [("Retry-After", secs)];
        let parts = ResponseParts {
            extra: &extra,
            ..ResponseParts::new(503, "Service Unavailable")
        };
        let range = self.region_range(Region::Scratch(k));
        let Some(out) = self.arena.get_mut(range) else {
            self.free_scratch(k);
            return;
        };
        let written = parts.write(msg.headers(), out).map(|out| out.len());
        self.queue_scratch_transmit(k, written.ok(), transport, local, remote);
    }
}

/// The bytes of a parsed message as received.
fn msg_bytes<'b>(msg: &Message<'b, '_>) -> &'b [u8] {
    msg.as_bytes()
}

/// `n` in decimal, written by the message writer (one copy of the digit loop in the
/// program); a u32 has at most 10 digits, so they always fit.
fn fmt_u32(n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut w = crate::message::Writer::new(buf);
    let _ = w.put_u32(n);
    w.finish()
}

#[cfg(feature = "rfc2543")]
/// The RFC 2543 matching key (§17.2.3): Request-URI, To tag, From tag, Call-ID, CSeq, top
/// Via. With `ack`, the key an ACK matches: the CSeq method left out and the To tag being
/// the one of the response the transaction sent.
pub(super) fn rfc2543_key(
    h: KeyHasher,
    msg: &Message<'_, '_>,
    ack: bool,
    to_tag: &str,
) -> Option<TransactionKey> {
    if ack {
        rfc2543_fields(h, msg, "\u{0}ACK", to_tag)
    } else {
        rfc2543_fields(h, msg, key_method(msg.method()?), to_tag)
    }
}

#[cfg(feature = "rfc2543")]
fn rfc2543_key_method(
    h: KeyHasher,
    msg: &Message<'_, '_>,
    method: &str,
    to_tag: &str,
) -> Option<TransactionKey> {
    rfc2543_fields(h, msg, method, to_tag)
}

#[cfg(feature = "rfc2543")]
fn rfc2543_fields(
    mut h: KeyHasher,
    msg: &Message<'_, '_>,
    method: &str,
    to_tag: &str,
) -> Option<TransactionKey> {
    h.field(msg.request_uri()?.raw().as_bytes());
    h.field(to_tag.as_bytes());
    h.field(msg.from().ok()?.tag().unwrap_or("").as_bytes());
    h.field(msg.call_id().ok()?.as_bytes());
    let mut digits = [0u8; 10];
    h.field(fmt_u32(msg.cseq().ok()?.seq, &mut digits));
    h.field(method.as_bytes());
    let via = msg.header(HeaderName::Via)?;
    h.field(crate::message::lex::CommaValues::new(via.value).next()?);
    Some(h.finish())
}
