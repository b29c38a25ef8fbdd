//! What arrives at the UA: requests (§8.2 checks, §12.2.2 in-dialog, §9.2 CANCEL, §11
//! OPTIONS, §15.1.2 BYE, §14.2 re-INVITE), ACKs for our 2xx, and responses to our requests
//! (§13.2.2, §14.1, §15.1.1).

use super::call::{Reinvite, Sdp};
use super::outbound::{angle, reason_phrase};
use super::{CallState, EndReason, Inbound, Role, UaEvent, UserAgent};
use crate::dialog::{to_tag, Dialog};
use crate::endpoint::TransactionId;
use crate::message::builder::ResponseParts;
use crate::message::headers::Tokens;
use crate::message::validate::Rejection;
use crate::message::{Header, HeaderName, Message, Parser, Status};
use crate::time::Instant;

/// How many 3xx in a row a call follows before giving up.
#[cfg(feature = "follow-redirects")]
const MAX_REDIRECTS: u8 = 3;

impl<'s, 'c, const S: usize, const T: usize, const E: usize, const I: usize>
    UserAgent<'s, 'c, S, T, E, I>
{
    pub(super) fn on_inbound(&mut self, now: Instant, kind: Inbound, bytes: &[u8]) {
        match kind {
            Inbound::Timeout { tx } => self.on_tx_timeout(now, tx),
            Inbound::Terminated { tx } => self.on_tx_terminated(tx),
            _ => {
                let mut h = [Header::EMPTY; 64];
                let Ok(Status::Complete(msg)) = Parser::datagram().parse(bytes, &mut h) else {
                    return;
                };
                match kind {
                    Inbound::Request { tx, cancels } => self.on_request(now, tx, cancels, &msg),
                    Inbound::Response { tx } => self.on_response(now, tx, &msg, bytes),
                    Inbound::Ack => self.on_ack(now, &msg),
                    Inbound::Stray => self.on_stray(now, &msg, bytes),
                    _ => {}
                }
            }
        }
    }

    fn find_dialog_call(&self, call_id: &str, local: &str, remote: &str) -> Option<usize> {
        self.calls.iter().position(|c| {
            c.in_use
                && c.dialog
                    .as_ref()
                    .is_some_and(|d| d.matches(call_id, local, remote))
        })
    }

    fn find_tx_call(&self, tx: TransactionId) -> Option<usize> {
        self.calls.iter().position(|c| {
            c.in_use
                && (c.invite_tx == Some(tx)
                    || c.bye_tx == Some(tx)
                    || matches!(c.reinvite, Reinvite::Sent { tx: t, .. } if t == tx)
                    || matches!(c.reinvite, Reinvite::Received { tx: t } | Reinvite::AnsweredWaitingAck { tx: t } if t == tx))
        })
    }

    fn on_request(
        &mut self,
        now: Instant,
        tx: TransactionId,
        cancels: Option<TransactionId>,
        msg: &Message<'_, '_>,
    ) {
        let method = msg.method().unwrap_or("");
        let (Ok(call_id), Ok(from)) = (msg.call_id(), msg.from()) else {
            return self.reply(now, tx, 400, None);
        };
        let from_tag = from.tag().unwrap_or("");
        if let Some(local) = to_tag(msg) {
            // §12.2.2: a request inside a dialog.
            let Some(i) = self.find_dialog_call(call_id, local, from_tag) else {
                return self.reply(now, tx, 481, None);
            };
            let seq = msg.cseq().map(|c| c.seq).unwrap_or(0);
            if let Some(d) = self.calls[i].dialog.as_mut() {
                if d.check_remote_cseq(seq).is_err() {
                    return self.reply(now, tx, 500, None);
                }
            }
            return match method {
                "BYE" => {
                    self.reply(now, tx, 200, None);
                    self.end_call(i, EndReason::RemoteBye);
                }
                "INVITE" => self.on_reinvite(now, tx, i, msg),
                "OPTIONS" => self.reply_options(now, tx),
                _ => match self.config.policy.check(msg) {
                    Err(r) => self.reply_rejection(now, tx, r, msg),
                    Ok(()) => self.reply(now, tx, 200, None),
                },
            };
        }
        // Outside a dialog: the §8.2 checks first (405, 416, 420, 415).
        if let Err(r) = self.config.policy.check(msg) {
            return self.reply_rejection(now, tx, r, msg);
        }
        match method {
            "INVITE" => self.on_invite(now, tx, msg, call_id, from_tag),
            "CANCEL" => {
                // §9.2: 200 to the CANCEL, 487 to the INVITE if it is still unanswered.
                let call = cancels.and_then(|inv| {
                    self.calls
                        .iter()
                        .position(|c| c.in_use && c.invite_tx == Some(inv))
                });
                match call {
                    Some(i) => {
                        self.reply(now, tx, 200, None);
                        if self.calls[i].state == CallState::Incoming {
                            let _ = self.respond_in_call(now, i, 487, "Request Terminated", None);
                            self.end_call(i, EndReason::Cancelled);
                        }
                    }
                    None => self.reply(now, tx, 481, None),
                }
            }
            "OPTIONS" => self.reply_options(now, tx),
            "BYE" => self.reply(now, tx, 481, None),
            _ => self.reply(now, tx, 501, None),
        }
    }

    fn on_invite(
        &mut self,
        now: Instant,
        tx: TransactionId,
        msg: &Message<'_, '_>,
        call_id: &str,
        from_tag: &str,
    ) {
        let seq = msg.cseq().map(|c| c.seq).unwrap_or(0);
        // §8.2.2.2: the same request arriving by another path (same Call-ID, From tag and
        // CSeq, another transaction) is a merged request: 482.
        let merged = self.calls.iter().any(|c| {
            c.in_use
                && c.role == Role::Callee
                && c.invite_tx != Some(tx)
                && c.invite_seq == seq
                && c.call_id() == call_id
                && c.ids.str(c.from_tag_remote) == from_tag
        });
        if merged {
            return self.reply(now, tx, 482, None);
        }
        let Ok(i) = self.alloc_call(Role::Callee) else {
            return self.reply(now, tx, 486, None);
        };
        let tag = crate::rand::Token::new(self.ep.rng());
        let c = &mut self.calls[i];
        let stored = c.ids.push(call_id.as_bytes()).and_then(|id| {
            c.call_id = id;
            c.local_tag = c.ids.push(tag.as_str().as_bytes())?;
            c.from_tag_remote = c.ids.push(from_tag.as_bytes())?;
            Ok(())
        });
        c.invite_tx = Some(tx);
        c.invite_seq = seq;
        if stored.is_err() || (!msg.body().is_empty() && !c.sdp.set(Sdp::Remote, msg.body())) {
            let _ = self.respond_in_call(now, i, 500, "Server Internal Error", None);
            self.calls[i].in_use = false;
            return;
        }
        let id = self.id_of(i);
        self.emit(UaEvent::IncomingCall { call: id });
    }

    fn on_reinvite(&mut self, now: Instant, tx: TransactionId, i: usize, msg: &Message<'_, '_>) {
        match self.calls[i].reinvite {
            // §14.2: our own re-INVITE is pending: glare, 491.
            Reinvite::Sent { .. } => return self.reply_in_dialog(now, tx, i, 491),
            // A second one while we process one: 500 with Retry-After (§14.2).
            Reinvite::Received { .. } | Reinvite::AnsweredWaitingAck { .. } => {
                return self.reply_in_dialog(now, tx, i, 500);
            }
            Reinvite::Idle => {}
        }
        if self.calls[i].state != CallState::Confirmed {
            return self.reply_in_dialog(now, tx, i, 491);
        }
        let c = &mut self.calls[i];
        if !c.sdp.set(Sdp::Pending, msg.body()) {
            return self.reply_in_dialog(now, tx, i, 500);
        }
        // §12.2.2: a target refresh request updates the remote target.
        if let Some(d) = c.dialog.as_mut() {
            let _ = d.set_target_from(msg);
        }
        c.reinvite = Reinvite::Received { tx };
        let id = self.id_of(i);
        self.emit(UaEvent::Reinvite { call: id });
    }

    fn on_ack(&mut self, now: Instant, msg: &Message<'_, '_>) {
        let (Ok(call_id), Ok(from)) = (msg.call_id(), msg.from()) else {
            return;
        };
        let Some(local) = to_tag(msg) else { return };
        let Some(i) = self.find_dialog_call(call_id, local, from.tag().unwrap_or("")) else {
            return;
        };
        let c = &mut self.calls[i];
        c.ok_retransmit = None;
        if let Reinvite::AnsweredWaitingAck { .. } = c.reinvite {
            c.reinvite = Reinvite::Idle;
            return;
        }
        if c.state == CallState::Answered {
            if c.offer_in_answer && !msg.body().is_empty() {
                // The offer was in our 2xx; the ACK carries the answer (§13.2.1).
                c.sdp.set(Sdp::Remote, msg.body());
            }
            c.state = CallState::Confirmed;
            let id = self.id_of(i);
            self.emit(UaEvent::Confirmed { call: id });
            if self.calls[i].cancel_requested {
                let _ = self.send_bye(now, i);
            }
        }
    }

    fn on_response(
        &mut self,
        now: Instant,
        tx: TransactionId,
        msg: &Message<'_, '_>,
        bytes: &[u8],
    ) {
        let Some(code) = msg.status() else { return };
        if self.on_options_outcome(tx, code) {
            return;
        }
        if self.registration_tx == Some(tx) {
            if code >= 200 {
                self.registration_tx = None;
            }
            let cfg_expires = self.registrar.map(|r| r.1).unwrap_or(0);
            let event = self.registration_response(now, msg, cfg_expires);
            // RFC 3263 §4.3: a 503 to the first REGISTER: the registrar's next target.
            if code == 503 && self.registrar_fail_over(now) {
                return;
            }
            if code >= 200 {
                self.release_registrar_resolution();
            }
            if let Some(e) = event {
                self.emit(UaEvent::Registration(e));
            }
            return;
        }
        let Some(i) = self.find_tx_call(tx) else {
            return;
        };
        if self.calls[i].bye_tx == Some(tx) {
            if code >= 200 {
                self.calls[i].bye_tx = None;
                self.end_call(i, EndReason::LocalBye);
                self.maybe_free(i);
            }
            return;
        }
        if let Reinvite::Sent { tx: rtx, seq } = self.calls[i].reinvite {
            if rtx == tx {
                return self.on_reinvite_response(now, i, code, seq, msg);
            }
        }
        if self.calls[i].invite_tx == Some(tx) && self.calls[i].role == Role::Caller {
            self.on_invite_response(now, i, code, msg, bytes);
        }
    }

    fn on_invite_response(
        &mut self,
        now: Instant,
        i: usize,
        code: u16,
        msg: &Message<'_, '_>,
        bytes: &[u8],
    ) {
        let id = self.id_of(i);
        if code > 100 && code != 503 {
            // RFC 3263 §4.3: a response other than 100 or 503 ends the failover.
            self.release_resolution(i);
        }
        match code {
            100..=199 => {
                if self.calls[i].cancel_requested && !self.calls[i].cancelled {
                    // §9.1: the CANCEL waited for a provisional.
                    if let Some(tx) = self.calls[i].invite_tx {
                        if self.ep.send_cancel(now, tx).is_ok() {
                            self.calls[i].cancelled = true;
                        }
                    }
                }
                if code == 100 {
                    return;
                }
                if let Some(tag) = to_tag(msg) {
                    let new = self.calls[i].add_fork(tag);
                    if new && self.calls[i].dialog.is_none() {
                        self.calls[i].dialog = self.uac_dialog(i, msg);
                    }
                }
                if matches!(self.calls[i].state, CallState::Calling | CallState::Ringing) {
                    self.calls[i].state = CallState::Ringing;
                    if !msg.body().is_empty() {
                        self.calls[i].sdp.set(Sdp::Remote, msg.body());
                    }
                    let early = self.calls[i].fork_count;
                    self.emit(UaEvent::Ringing {
                        call: id,
                        code,
                        early_dialogs: early,
                    });
                }
            }
            200..=299 => {
                let tag = to_tag(msg).unwrap_or("");
                let c = &self.calls[i];
                let confirmed_tag = match (&c.dialog, c.state) {
                    (
                        Some(d),
                        CallState::Confirmed | CallState::AwaitingAck | CallState::Ending,
                    ) => Some(d.remote_tag() == tag),
                    _ => None,
                };
                match confirmed_tag {
                    // A retransmission of the 2xx we confirmed: ACK again (§13.2.2.4).
                    Some(true) => {
                        if c.state == CallState::Confirmed {
                            let seq = c.invite_seq;
                            let _ = self.send_ack(now, i, seq);
                        }
                    }
                    // Another fork answered too: ACK and BYE it.
                    Some(false) => self.ack_and_bye_fork(now, i, bytes),
                    None => {
                        let Some(d) = self.uac_dialog(i, msg) else {
                            return;
                        };
                        let c = &mut self.calls[i];
                        c.dialog = Some(d);
                        let _ = c.add_fork(tag);
                        if !msg.body().is_empty() {
                            c.sdp.set(Sdp::Remote, msg.body());
                        }
                        let offered = c.sdp.get(Sdp::Local).is_some();
                        let seq = c.invite_seq;
                        if offered {
                            c.state = CallState::Confirmed;
                            let _ = self.send_ack(now, i, seq);
                        } else {
                            c.state = CallState::AwaitingAck;
                            c.offer_in_answer = true;
                        }
                        self.emit(UaEvent::Answered { call: id });
                        // §9.1 / §15: answered although we cancelled: end it with BYE.
                        let c = &self.calls[i];
                        if (c.cancel_requested || c.cancelled) && c.state == CallState::Confirmed {
                            let _ = self.send_bye(now, i);
                        }
                    }
                }
            }
            // Without feature `follow-redirects` a 3xx ends the call like any other final
            // response (§8.1.3.4 lets a UAC follow, it does not make it): Rejected(code).
            #[cfg(feature = "follow-redirects")]
            300..=302
                if self.calls[i].redirects < MAX_REDIRECTS && !self.calls[i].cancel_requested =>
            {
                // §8.1.3.4: follow the redirection to the best new target.
                if self.follow_redirect(now, i, msg).is_err() {
                    self.end_call(i, EndReason::Rejected(code));
                }
            }
            // RFC 3263 §4.3: a 503 before any provisional: the next target.
            503 if self.fail_over(now, i) => {}
            _ => {
                let c = &self.calls[i];
                let reason = if code == 487 && (c.cancelled || c.cancel_requested) {
                    EndReason::Cancelled
                } else {
                    EndReason::Rejected(code)
                };
                if matches!(c.state, CallState::Calling | CallState::Ringing) {
                    self.end_call(i, reason);
                }
            }
        }
    }

    fn on_reinvite_response(
        &mut self,
        now: Instant,
        i: usize,
        code: u16,
        seq: u32,
        msg: &Message<'_, '_>,
    ) {
        let id = self.id_of(i);
        match code {
            100..=199 => {}
            200..=299 => {
                let c = &mut self.calls[i];
                if let Some(d) = c.dialog.as_mut() {
                    let _ = d.set_target_from(msg);
                }
                // The offer we sent is now our session description (§14.1).
                c.sdp.promote(Sdp::Pending, Sdp::Local);
                if !msg.body().is_empty() {
                    c.sdp.set(Sdp::Remote, msg.body());
                }
                c.reinvite = Reinvite::Idle;
                c.ack_branch = crate::rand::Branch::new(self.ep.rng());
                let _ = self.send_ack(now, i, seq);
                self.emit(UaEvent::ReinviteDone { call: id, code });
            }
            491 => {
                // §14.1: glare; keep the offer and retry later.
                self.calls[i].reinvite = Reinvite::Idle;
                self.schedule_glare_retry(now, i);
            }
            _ => {
                // §14.1: a failed re-INVITE leaves the session as it was.
                let c = &mut self.calls[i];
                c.reinvite = Reinvite::Idle;
                c.sdp.clear(Sdp::Pending);
                self.emit(UaEvent::ReinviteDone { call: id, code });
            }
        }
    }

    /// A response outside any transaction: a 2xx retransmitted after the INVITE
    /// transaction ended (§13.2.2.4).
    fn on_stray(&mut self, now: Instant, msg: &Message<'_, '_>, bytes: &[u8]) {
        let (Some(code), Ok(call_id), Ok(from), Ok(cseq)) =
            (msg.status(), msg.call_id(), msg.from(), msg.cseq())
        else {
            return;
        };
        if !(200..300).contains(&code) || cseq.method != "INVITE" {
            return;
        }
        let local = from.tag().unwrap_or("");
        let Some(i) = self.calls.iter().position(|c| {
            c.in_use && c.role == Role::Caller && c.call_id() == call_id && c.local_tag() == local
        }) else {
            return;
        };
        let tag = to_tag(msg).unwrap_or("");
        let same = self.calls[i]
            .dialog
            .as_ref()
            .is_some_and(|d| d.remote_tag() == tag);
        if same && self.calls[i].state == CallState::Confirmed {
            let _ = self.send_ack(now, i, cseq.seq);
        } else if !same {
            self.ack_and_bye_fork(now, i, bytes);
        }
    }

    fn on_tx_timeout(&mut self, _now: Instant, tx: TransactionId) {
        if self.on_options_outcome(tx, 408) {
            return;
        }
        if self.registration_tx == Some(tx) {
            self.registration_tx = None;
            let e = self.registration.on_transport_timeout(_now);
            // RFC 3263 §4.3: no answer to the first REGISTER: the registrar's next target.
            if self.registrar_fail_over(_now) {
                return;
            }
            self.release_registrar_resolution();
            self.emit(UaEvent::Registration(e));
            return;
        }
        let Some(i) = self.find_tx_call(tx) else {
            return;
        };
        let id = self.id_of(i);
        if self.calls[i].bye_tx == Some(tx) {
            self.calls[i].bye_tx = None;
            self.end_call(i, EndReason::LocalBye);
            self.maybe_free(i);
        } else if matches!(self.calls[i].reinvite, Reinvite::Sent { tx: t, .. } if t == tx) {
            self.calls[i].reinvite = Reinvite::Idle;
            self.emit(UaEvent::ReinviteDone {
                call: id,
                code: 408,
            });
        } else if self.calls[i].invite_tx == Some(tx)
            && matches!(
                self.calls[i].state,
                CallState::Calling | CallState::Ringing | CallState::Incoming
            )
        {
            // RFC 3263 §4.3: no response (Timer B) or a transport failure: the next target.
            if !self.fail_over(_now, i) {
                self.end_call(i, EndReason::Timeout);
            }
        }
    }

    fn on_tx_terminated(&mut self, tx: TransactionId) {
        for i in 0..self.calls.len() {
            let c = &mut self.calls[i];
            if !c.in_use {
                continue;
            }
            if c.invite_tx == Some(tx) {
                c.invite_tx = None;
            }
            if c.bye_tx == Some(tx) {
                c.bye_tx = None;
            }
            if let Reinvite::Received { tx: t } = c.reinvite {
                if t == tx {
                    c.reinvite = Reinvite::Idle;
                }
            }
            self.maybe_free(i);
        }
        if self.registration_tx == Some(tx) {
            self.registration_tx = None;
        }
    }

    /// The UAC's dialog from our INVITE and this response.
    fn uac_dialog(&self, i: usize, response: &Message<'_, '_>) -> Option<Dialog<T>> {
        let req = self.ep.request_bytes(self.calls[i].invite_tx?)?;
        let mut h = [Header::EMPTY; 64];
        let invite = Parser::datagram().parse(req, &mut h).ok()?.complete()?;
        Dialog::uac(&invite, response).ok()
    }

    /// Answers a request with a status and nothing else.
    fn reply(&mut self, now: Instant, tx: TransactionId, code: u16, extra: Option<(&str, &[u8])>) {
        let mut tag = [0u8; 16];
        let t = crate::rand::Token::new(self.ep.rng());
        tag.copy_from_slice(t.as_str().as_bytes());
        let tag = core::str::from_utf8(&tag).unwrap_or("");
        let extra_arr;
        let parts = ResponseParts {
            to_tag: Some(tag),
            extra: match extra {
                Some(e) => {
                    extra_arr = [e];
                    &extra_arr
                }
                None => &[],
            },
            ..ResponseParts::new(code, reason_phrase(code))
        };
        let _ = self.ep.respond(now, tx, &parts);
    }

    fn reply_in_dialog(&mut self, now: Instant, tx: TransactionId, i: usize, code: u16) {
        let tag = self.calls[i]
            .dialog
            .as_ref()
            .map(|d| d.local_tag())
            .unwrap_or("");
        let mut retry = *b"0";
        // §14.2: a 500 to a second re-INVITE carries a Retry-After of 0 to 10 s.
        if code == 500 {
            retry[0] = b'0' + ((self.ep.rng().next_u64() >> 32) as u32 % 10) as u8;
        }
        let extra = [("Retry-After", &retry[..])];
        let parts = ResponseParts {
            to_tag: Some(tag),
            extra: if code == 500 { &extra } else { &[] },
            ..ResponseParts::new(code, reason_phrase(code))
        };
        let _ = self.ep.respond(now, tx, &parts);
    }

    /// §11.2: 200 to OPTIONS with Allow, Accept and Supported.
    fn reply_options(&mut self, now: Instant, tx: TransactionId) {
        let mut allow = [0u8; 256];
        let mut accept = [0u8; 256];
        let mut contact = [0u8; 160];
        let (Some(allow), Some(accept), Ok(contact)) = (
            join(&mut allow, self.config.policy.methods),
            join(&mut accept, self.config.policy.accept),
            angle(&mut contact, self.names.str(self.contact)),
        ) else {
            return;
        };
        let mut supported = [0u8; 256];
        let supported = join(&mut supported, self.config.policy.supported).unwrap_or(b"");
        let extra = [
            ("Allow", allow),
            ("Accept", accept),
            ("Supported", supported),
            ("Contact", contact),
        ];
        let tag = crate::rand::Token::new(self.ep.rng());
        let parts = ResponseParts {
            to_tag: Some(tag.as_str()),
            extra: &extra,
            ..ResponseParts::new(200, "OK")
        };
        let _ = self.ep.respond(now, tx, &parts);
    }

    /// A §8.2 rejection with the header its status needs (Allow, Unsupported, Accept).
    fn reply_rejection(
        &mut self,
        now: Instant,
        tx: TransactionId,
        r: Rejection,
        msg: &Message<'_, '_>,
    ) {
        let mut buf = [0u8; 256];
        let extra: Option<(&str, &[u8])> = match r.code {
            405 => join(&mut buf, self.config.policy.methods).map(|v| ("Allow", v)),
            415 => join(&mut buf, self.config.policy.accept).map(|v| ("Accept", v)),
            420 => {
                let supported = self.config.policy.supported;
                let mut unknown = msg
                    .values(r.header.unwrap_or(HeaderName::Require))
                    .flat_map(Tokens::new)
                    .filter(|t| !supported.contains(t));
                join_iter(&mut buf, &mut unknown).map(|v| ("Unsupported", v))
            }
            _ => None,
        };
        self.reply(now, tx, r.code, extra);
    }
}

fn join<'b>(buf: &'b mut [u8], items: &[&str]) -> Option<&'b [u8]> {
    join_iter(buf, &mut items.iter().copied())
}

fn join_iter<'b>(buf: &'b mut [u8], items: &mut dyn Iterator<Item = &str>) -> Option<&'b [u8]> {
    let mut w = crate::message::Writer::new(buf);
    crate::message::validate::join(&mut w, items).ok()?;
    Some(w.finish())
}
