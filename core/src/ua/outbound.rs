//! What the application asks of the UA (calls, answers, hang-ups, re-INVITEs, registration)
//! and how the UA sends it: §8.1.1 requests, §12.2.1 requests in a dialog, §13.2.2.4 ACK
//! for 2xx, §13.3.1.4 2xx retransmission, §14.1 glare retry.

use core::net::SocketAddr;

use super::call::{OkRetransmit, Reinvite, Sdp};
use super::{
    concat_into, CallId, CallState, EndReason, RegisterKind, Role, UaConfig, UaError, UaEvent,
    UserAgent,
};
use crate::dialog::{next_hop, Dialog, NextHop, Span, TextBuf, MAX_ROUTES};
use crate::endpoint::{Destination, TransactionId};
use crate::message::builder::{Address, RequestParts, ResponseParts, SentBy};
use crate::message::{Header, Parser, Uri};
use crate::rand::{Branch, Token};
use crate::time::Instant;

const SDP: &str = "application/sdp";

impl<'s, 'c, const S: usize, const T: usize, const E: usize, const I: usize>
    UserAgent<'s, 'c, S, T, E, I>
{
    /// Places a call to `target` (a SIP URI), with an SDP offer or none (then the 2xx
    /// carries the offer and [`ack`](Self::ack) the answer, §13.2.1).
    pub fn invite(
        &mut self,
        now: Instant,
        target: &str,
        offer: Option<&[u8]>,
    ) -> Result<CallId, UaError> {
        // The next hop: the outbound proxy, an address in the URI, or a name DNS must find.
        let dest = match self.dest_for_uri(target) {
            Ok(d) => Some(d),
            Err(UaError::Unresolvable) => None,
            Err(e) => return Err(e),
        };
        let i = self.alloc_call(Role::Caller)?;
        let result = self
            .prepare_invite(i, target, offer)
            .and_then(|()| match dest {
                Some(d) => self.send_invite(now, i, d, None),
                None => self.start_resolution(now, i, target),
            });
        if result.is_err() {
            self.calls[i].in_use = false;
        }
        result.map(|()| self.id_of(i))
    }

    /// A new Call-ID, `token@domain` (§8.1.1.4: unique over space and time), written in
    /// `buf`, and a new From tag (§8.1.1.3).
    pub(super) fn new_call_id<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<(&'b str, Token), UaError> {
        let rng = self.ep.rng();
        let (id_token, tag) = (Token::new(rng), Token::new(rng));
        let call_id = concat_into(
            buf,
            &[
                id_token.as_str().as_bytes(),
                b"@",
                self.config.domain.as_bytes(),
            ],
        )
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or(UaError::BadInput)?;
        Ok((call_id, tag))
    }

    /// Call-ID, tag, target and offer of a new outgoing call.
    fn prepare_invite(
        &mut self,
        i: usize,
        target: &str,
        offer: Option<&[u8]>,
    ) -> Result<(), UaError> {
        let mut buf = [0u8; 128];
        let (call_id, tag) = self.new_call_id(&mut buf)?;
        let c = &mut self.calls[i];
        c.call_id = c
            .ids
            .push(call_id.as_bytes())
            .map_err(|_| UaError::BadInput)?;
        c.local_tag = c
            .ids
            .push(tag.as_str().as_bytes())
            .map_err(|_| UaError::BadInput)?;
        c.target = c
            .ids
            .push(target.as_bytes())
            .map_err(|_| UaError::BadInput)?;
        if let Some(o) = offer {
            if !c.sdp.set(Sdp::Local, o) {
                return Err(UaError::BadInput);
            }
        }
        c.invite_seq = 1;
        Ok(())
    }

    /// Sends the call's INVITE to its target (or, after a 3xx, to `request_uri` with the
    /// same To).
    pub(super) fn send_invite(
        &mut self,
        now: Instant,
        i: usize,
        dest: Destination,
        request_uri: Option<&str>,
    ) -> Result<(), UaError> {
        let route = [self.names.str(self.proxy_route)];
        let c = &self.calls[i];
        let target = c.ids.str(c.target);
        let offer = c.sdp.get(Sdp::Local);
        let names = (self.aor, self.contact);
        let from = FromUs::of(&self.config, &self.names, names, c.local_tag(), &route);
        let mut parts = outside_dialog("INVITE", target, c.call_id(), c.invite_seq, from);
        parts.request_uri = request_uri.unwrap_or(target);
        parts.content_type = offer.map(|_| SDP);
        parts.body = offer.unwrap_or(b"");
        let tx = self.ep.send_request(now, dest, &parts)?;
        self.calls[i].invite_tx = Some(tx);
        Ok(())
    }

    /// §8.1.3.4: a 3xx to our INVITE names new targets: send the INVITE again to the best
    /// one (same Call-ID, From and To, a higher CSeq, a new transaction).
    #[cfg(feature = "follow-redirects")]
    pub(super) fn follow_redirect(
        &mut self,
        now: Instant,
        i: usize,
        response: &crate::message::Message<'_, '_>,
    ) -> Result<(), UaError> {
        let mut found = [crate::redirect::RedirectTarget::EMPTY; 4];
        let n = crate::redirect::targets(response, &mut |_| false, &mut found);
        let first = found[..n].first().ok_or(UaError::BadInput)?;
        let mut uri_buf = [0u8; 256];
        let target = first.request_uri(&mut uri_buf).ok_or(UaError::BadInput)?;
        let dest = self.dest_for_uri(target)?;
        // The To of the first INVITE stays (§8.1.3.4: only the Request-URI changes, and
        // the CSeq goes up).
        let c = &mut self.calls[i];
        c.invite_seq += 1;
        c.redirects += 1;
        self.send_invite(now, i, dest, Some(target))?;
        let c = &mut self.calls[i];
        c.state = CallState::Calling;
        c.dialog = None;
        c.clear_forks();
        Ok(())
    }

    /// Sends 180 Ringing for an incoming call, creating the early dialog (§13.3.1.1).
    pub fn ring(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        if self.calls[i].state != CallState::Incoming {
            return Err(UaError::InvalidState);
        }
        self.ensure_uas_dialog(i)?;
        self.respond_in_call(now, i, 180, "Ringing", None)
    }

    /// Answers an incoming call with 200 OK carrying `sdp` (the answer to the INVITE's
    /// offer, or our offer when the INVITE had none), then retransmits the 2xx until the ACK
    /// (§13.3.1.4).
    pub fn answer(&mut self, now: Instant, call: CallId, sdp: &[u8]) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        if self.calls[i].state != CallState::Incoming {
            return Err(UaError::InvalidState);
        }
        self.ensure_uas_dialog(i)?;
        if !self.calls[i].sdp.set(Sdp::Local, sdp) {
            return Err(UaError::BadInput);
        }
        self.calls[i].offer_in_answer = self.calls[i].sdp.get(Sdp::Remote).is_none();
        self.respond_in_call(now, i, 200, "OK", Some(sdp))?;
        let tx = self.calls[i].invite_tx.ok_or(UaError::InvalidState)?;
        self.start_ok_retransmit(now, i, tx);
        let c = &mut self.calls[i];
        c.state = CallState::Answered;
        if let Some(d) = c.dialog.as_mut() {
            d.state_confirm();
        }
        Ok(())
    }

    /// Rejects an incoming call with a final status (486 Busy Here, 603 Decline ...).
    pub fn reject(&mut self, now: Instant, call: CallId, code: u16) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        if self.calls[i].state != CallState::Incoming || !(300..700).contains(&code) {
            return Err(UaError::InvalidState);
        }
        self.respond_in_call(now, i, code, reason_phrase(code), None)?;
        self.end_call(i, EndReason::Rejected(code));
        Ok(())
    }

    /// Sends the ACK for a 2xx that carried an offer, with our answer (§13.2.2.4).
    pub fn ack(&mut self, now: Instant, call: CallId, answer: &[u8]) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        if self.calls[i].state != CallState::AwaitingAck {
            return Err(UaError::InvalidState);
        }
        if !self.calls[i].sdp.set(Sdp::Local, answer) {
            return Err(UaError::BadInput);
        }
        let seq = self.calls[i].invite_seq;
        self.send_ack(now, i, seq)?;
        self.calls[i].state = CallState::Confirmed;
        Ok(())
    }

    /// Ends a call however far it got: CANCEL before an answer (§9.1), BYE after (§15.1),
    /// 603 for an unanswered incoming call.
    pub fn hangup(&mut self, now: Instant, call: CallId) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        match self.calls[i].state {
            CallState::Calling | CallState::Ringing => self.cancel_at(now, i),
            CallState::Incoming => self.reject(now, call, 603),
            // §15: no BYE before the ACK for our 2xx; it goes when the ACK arrives.
            CallState::Answered => {
                self.calls[i].cancel_requested = true;
                Ok(())
            }
            CallState::Confirmed | CallState::AwaitingAck => self.send_bye(now, i),
            CallState::Ending | CallState::Ended => Err(UaError::InvalidState),
        }
    }

    fn cancel_at(&mut self, now: Instant, i: usize) -> Result<(), UaError> {
        let c = &mut self.calls[i];
        if c.cancelled {
            return Ok(());
        }
        if c.state == CallState::Calling {
            // §9.1: no CANCEL before a provisional response; it goes when one arrives.
            c.cancel_requested = true;
            return Ok(());
        }
        let tx = c.invite_tx.ok_or(UaError::InvalidState)?;
        self.ep.send_cancel(now, tx)?;
        self.calls[i].cancelled = true;
        Ok(())
    }

    /// Sends a re-INVITE with a new offer (§14.1): hold, resume, a codec change. The answer
    /// arrives as [`UaEvent::ReinviteDone`]; a 491 (glare) is retried after the §14.1 delay.
    pub fn reinvite(&mut self, now: Instant, call: CallId, offer: &[u8]) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        let c = &mut self.calls[i];
        if c.state != CallState::Confirmed
            || c.reinvite != Reinvite::Idle
            || c.glare_retry.is_some()
        {
            return Err(UaError::InvalidState);
        }
        if !c.sdp.set(Sdp::Pending, offer) {
            return Err(UaError::BadInput);
        }
        self.send_reinvite(now, i)
    }

    fn send_reinvite(&mut self, now: Instant, i: usize) -> Result<(), UaError> {
        let dest = self.dest_for_dialog(i)?;
        let c = &mut self.calls[i];
        let d = c.dialog.as_mut().ok_or(UaError::InvalidState)?;
        let seq = d.next_seq();
        let mut routes = [""; MAX_ROUTES + 1];
        let d = c.dialog.as_ref().ok_or(UaError::InvalidState)?;
        let mut parts = d.request(
            "INVITE",
            seq,
            Some(self.names.str(self.contact)),
            &mut routes,
        );
        let offer = c.sdp.get(Sdp::Pending).unwrap_or(b"");
        parts.content_type = Some(SDP);
        parts.body = offer;
        let tx = self.ep.send_request(now, dest, &parts)?;
        self.calls[i].reinvite = Reinvite::Sent { tx, seq };
        Ok(())
    }

    /// Accepts the peer's re-INVITE with our answer (§14.2); the session changes.
    pub fn accept_reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        answer: &[u8],
    ) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        let Reinvite::Received { tx } = self.calls[i].reinvite else {
            return Err(UaError::InvalidState);
        };
        let mut contact = [0u8; 160];
        let contact = angle(&mut contact, self.names.str(self.contact))?;
        let extra = [("Contact", contact)];
        let tag = self.calls[i]
            .dialog
            .as_ref()
            .map(|d| d.local_tag())
            .unwrap_or("");
        let parts = ResponseParts {
            to_tag: Some(tag),
            extra: &extra,
            content_type: Some(SDP),
            body: answer,
            ..ResponseParts::new(200, "OK")
        };
        self.ep.respond(now, tx, &parts)?;
        let c = &mut self.calls[i];
        if c.sdp.get(Sdp::Pending).is_some() {
            c.sdp.promote(Sdp::Pending, Sdp::Remote);
        }
        c.sdp.clear(Sdp::Pending);
        // The answer went out in the 2xx; if it is too large to keep, our previous
        // description stays (the 2xx itself is not affected).
        c.sdp.set(Sdp::Local, answer);
        c.reinvite = Reinvite::AnsweredWaitingAck { tx };
        self.start_ok_retransmit(now, i, tx);
        Ok(())
    }

    /// Rejects the peer's re-INVITE (488 Not Acceptable Here, say); the old session stays
    /// (§14.2).
    pub fn reject_reinvite(
        &mut self,
        now: Instant,
        call: CallId,
        code: u16,
    ) -> Result<(), UaError> {
        let i = self.call_index(call).ok_or(UaError::NoCall)?;
        let Reinvite::Received { tx } = self.calls[i].reinvite else {
            return Err(UaError::InvalidState);
        };
        let tag = self.calls[i]
            .dialog
            .as_ref()
            .map(|d| d.local_tag())
            .unwrap_or("");
        let parts = ResponseParts {
            to_tag: Some(tag),
            ..ResponseParts::new(code, reason_phrase(code))
        };
        self.ep.respond(now, tx, &parts)?;
        let c = &mut self.calls[i];
        c.sdp.clear(Sdp::Pending);
        c.reinvite = Reinvite::Idle;
        Ok(())
    }

    /// The peer's pending offer in a re-INVITE we have not answered yet.
    pub fn pending_offer(&self, call: CallId) -> Option<&[u8]> {
        let c = self.call(call)?;
        match c.reinvite {
            Reinvite::Received { .. } => c.sdp.get(Sdp::Pending),
            _ => None,
        }
    }

    pub(super) fn send_bye(&mut self, now: Instant, i: usize) -> Result<(), UaError> {
        let dest = self.dest_for_dialog(i)?;
        let c = &mut self.calls[i];
        let d = c.dialog.as_mut().ok_or(UaError::InvalidState)?;
        let seq = d.next_seq();
        let mut routes = [""; MAX_ROUTES + 1];
        let d = c.dialog.as_ref().ok_or(UaError::InvalidState)?;
        let parts = d.request("BYE", seq, None, &mut routes);
        let tx = self.ep.send_request(now, dest, &parts)?;
        let c = &mut self.calls[i];
        c.bye_tx = Some(tx);
        c.ok_retransmit = None;
        c.state = CallState::Ending;
        Ok(())
    }

    /// The ACK for a 2xx (§13.2.2.4): built from the dialog, the INVITE's CSeq number, sent
    /// outside any transaction, identical when repeated for a retransmitted 2xx.
    pub(super) fn send_ack(&mut self, _now: Instant, i: usize, seq: u32) -> Result<(), UaError> {
        let dest = self.dest_for_dialog(i)?;
        let c = &self.calls[i];
        let d = c.dialog.as_ref().ok_or(UaError::InvalidState)?;
        // The ACK answers the 2xx's offer when the INVITE had none; else it has no body.
        // Every copy is the same, so a retransmitted ACK carries the answer too.
        let body = if c.role == Role::Caller && c.offer_in_answer {
            c.sdp.get(Sdp::Local)
        } else {
            None
        };
        send_ack_for(&mut self.ep, dest, d, seq, c.ack_branch, body)
    }

    /// An extra 2xx from another fork (§13.2.2.4): ACK it and send BYE in its dialog.
    pub(super) fn ack_and_bye_fork(&mut self, now: Instant, i: usize, response: &[u8]) {
        let Some(invite_tx) = self.calls[i].invite_tx else {
            return;
        };
        // Parsed where the endpoint keeps it, not copied out: the dialog owns its text, so
        // the borrow ends with this block (a copy cost a 4 KiB stack buffer).
        let dialog = {
            let Some(req) = self.ep.request_bytes(invite_tx) else {
                return;
            };
            let mut h1 = [Header::EMPTY; 64];
            let mut h2 = [Header::EMPTY; 64];
            let (
                Ok(crate::message::Status::Complete(invite)),
                Ok(crate::message::Status::Complete(ok)),
            ) = (
                Parser::datagram().parse(req, &mut h1),
                Parser::datagram().parse(response, &mut h2),
            )
            else {
                return;
            };
            Dialog::<T>::uac(&invite, &ok)
        };
        let Ok(mut d) = dialog else {
            return;
        };
        let seq = self.calls[i].invite_seq;
        let dest = match d.next_hop() {
            Some(NextHop::Addr(a)) => self.dest_to(a),
            _ => match self.config.outbound_proxy {
                Some(p) => self.dest_to(p),
                None => return,
            },
        };
        let branch = Branch::new(self.ep.rng());
        let _ = send_ack_for(&mut self.ep, dest, &d, seq, branch, None);
        let bye_seq = d.next_seq();
        let mut routes = [""; MAX_ROUTES + 1];
        let parts = d.request("BYE", bye_seq, None, &mut routes);
        let _ = self.ep.send_request(now, dest, &parts);
    }

    /// Responds within an incoming call's INVITE transaction with our tag and Contact.
    pub(super) fn respond_in_call(
        &mut self,
        now: Instant,
        i: usize,
        code: u16,
        reason: &str,
        body: Option<&[u8]>,
    ) -> Result<(), UaError> {
        let tx = self.calls[i].invite_tx.ok_or(UaError::InvalidState)?;
        let mut contact = [0u8; 160];
        let contact = angle(&mut contact, self.names.str(self.contact))?;
        let extra = [("Contact", contact)];
        let c = &self.calls[i];
        let parts = ResponseParts {
            code,
            reason,
            to_tag: Some(c.local_tag()),
            extra: if code < 300 { &extra } else { &[] },
            content_type: body.map(|_| SDP),
            body: body.unwrap_or(b""),
        };
        self.ep.respond(now, tx, &parts)?;
        Ok(())
    }

    /// Makes the UAS dialog from the stored INVITE once we answer with a tag (§12.1.1).
    fn ensure_uas_dialog(&mut self, i: usize) -> Result<(), UaError> {
        if self.calls[i].dialog.is_some() {
            return Ok(());
        }
        let tx = self.calls[i].invite_tx.ok_or(UaError::InvalidState)?;
        let req = self.ep.request_bytes(tx).ok_or(UaError::InvalidState)?;
        let mut h = [Header::EMPTY; 64];
        let msg = Parser::datagram()
            .parse(req, &mut h)
            .ok()
            .and_then(|s| s.complete())
            .ok_or(UaError::InvalidState)?;
        let d = Dialog::<T>::uas(&msg, self.calls[i].local_tag()).map_err(|_| UaError::BadInput)?;
        self.calls[i].dialog = Some(d);
        Ok(())
    }

    fn start_ok_retransmit(&mut self, now: Instant, i: usize, tx: TransactionId) {
        let t = self.ep.config().timers;
        self.calls[i].ok_retransmit = Some(OkRetransmit {
            tx,
            next: now + t.t1,
            interval: t.t1,
            give_up: now + t.t1_x64(),
        });
    }

    /// Fires a call's own timers: 2xx retransmission and give-up (§13.3.1.4), glare retry
    /// (§14.1).
    pub(super) fn call_timers(&mut self, now: Instant, i: usize) {
        if let Some(mut r) = self.calls[i].ok_retransmit {
            if now >= r.give_up {
                // No ACK for 64·T1: the session ends with a BYE.
                self.calls[i].ok_retransmit = None;
                if let Reinvite::AnsweredWaitingAck { .. } = self.calls[i].reinvite {
                    self.calls[i].reinvite = Reinvite::Idle;
                }
                let _ = self.send_bye(now, i);
                self.end_call(i, EndReason::NoAck);
            } else if now >= r.next {
                let _ = self.ep.retransmit_response(now, r.tx);
                let t2 = self.ep.config().timers.t2;
                r.interval = r.interval.saturating_add(r.interval).min(t2);
                r.next = r.next + r.interval;
                self.calls[i].ok_retransmit = Some(r);
            }
        }
        if self.calls[i].glare_retry.is_some_and(|t| t <= now) {
            self.calls[i].glare_retry = None;
            if self.send_reinvite(now, i).is_err() {
                let id = self.id_of(i);
                self.emit(UaEvent::ReinviteDone {
                    call: id,
                    code: 491,
                });
            }
        }
    }

    /// §14.1: after a 491, wait 2.1–4 s if we own the Call-ID (we were the caller), else
    /// 0–2 s, in 10 ms units, then retry.
    pub(super) fn schedule_glare_retry(&mut self, now: Instant, i: usize) {
        // 32 random bits are plenty, and a 32-bit remainder is one instruction on a phone's
        // core where a 64-bit one is a library call.
        let r = (self.ep.rng().next_u64() >> 32) as u32;
        let ms = if self.calls[i].role == Role::Caller {
            2100 + (r % 191) * 10
        } else {
            (r % 201) * 10
        };
        self.calls[i].glare_retry = Some(now + crate::time::millis(ms));
    }

    pub(super) fn send_register(
        &mut self,
        now: Instant,
        kind: RegisterKind,
    ) -> Result<(), UaError> {
        let (registrar, expires) = self.registrar.ok_or(UaError::InvalidState)?;
        let mut reg_uri = [0u8; 160];
        let reg_uri = registrar_uri(&mut reg_uri, self.config.domain)?;
        let cfg = super::register::RegistrationConfig {
            registrar: reg_uri,
            aor: self.names.str(self.aor),
            contact: self.names.str(self.contact),
            expires,
            display_name: self.config.display_name,
        };
        let mut buf = super::register::RegisterBuf::new();
        let built = match kind {
            RegisterKind::Add | RegisterKind::Refresh => {
                self.registration.register(now, &cfg, &mut buf)
            }
            RegisterKind::Remove => self.registration.unregister(now, &cfg, &mut buf),
            RegisterKind::RemoveAll => self.registration.unregister_all(now, &cfg, &mut buf),
            RegisterKind::Query => self.registration.query(now, &cfg, &mut buf),
        };
        let req = built.map_err(|_| UaError::InvalidState)?;
        let dest = self.dest_to(self.config.outbound_proxy.unwrap_or(registrar));
        match self.ep.send_request(now, dest, &req.parts()) {
            Ok(tx) => {
                self.registration_tx = Some(tx);
                Ok(())
            }
            Err(e) => {
                let _ = self.registration.on_transport_timeout(now);
                Err(e.into())
            }
        }
    }

    /// A response to our REGISTER: what it meant, and a retry after a 423.
    pub(super) fn registration_response(
        &mut self,
        now: Instant,
        msg: &crate::message::Message<'_, '_>,
        expires: u32,
    ) -> Option<super::register::RegistrationEvent> {
        use super::register::RegistrationEvent as R;
        let mut reg_uri = [0u8; 160];
        let reg_uri = registrar_uri(&mut reg_uri, self.config.domain).ok()?;
        let cfg = super::register::RegistrationConfig {
            registrar: reg_uri,
            aor: self.names.str(self.aor),
            contact: self.names.str(self.contact),
            expires,
            display_name: self.config.display_name,
        };
        let e = self.registration.on_response(now, &cfg, msg);
        match e {
            R::Ignored => None,
            R::RetryWithMinExpires { .. } => {
                let _ = self.send_register(now, RegisterKind::Add);
                Some(e)
            }
            _ => Some(e),
        }
    }

    #[cfg_attr(feature = "small-code", inline(never))]
    pub(super) fn dest_to(&self, remote: SocketAddr) -> Destination {
        Destination {
            transport: self.config.transport,
            local: self.config.local,
            remote,
        }
    }

    /// §8.1.2: the outbound proxy if configured, else the URI's host if it is an address
    /// ([`UaError::Unresolvable`] for a name: RFC 3263, see `locate.rs`).
    pub(super) fn dest_for_uri(&self, uri: &str) -> Result<Destination, UaError> {
        if let Some(p) = self.config.outbound_proxy {
            return Ok(self.dest_to(p));
        }
        let u = Uri::parse(uri.as_bytes()).map_err(|_| UaError::BadInput)?;
        match next_hop(&u) {
            Some(NextHop::Addr(a)) => Ok(self.dest_to(a)),
            Some(NextHop::Resolve { .. }) => Err(UaError::Unresolvable),
            None => Err(UaError::BadInput),
        }
    }

    /// Where the dialog's requests go: its route set or remote target (§12.2.1.1), or the
    /// outbound proxy when that is a name we cannot resolve.
    pub(super) fn dest_for_dialog(&self, i: usize) -> Result<Destination, UaError> {
        let d = self.calls[i].dialog.as_ref().ok_or(UaError::InvalidState)?;
        match d.next_hop() {
            Some(NextHop::Addr(a)) => Ok(self.dest_to(a)),
            _ => self
                .config
                .outbound_proxy
                .map(|p| self.dest_to(p))
                .ok_or(UaError::Unresolvable),
        }
    }
}

/// Sends an ACK for a 2xx in dialog `d` with this branch (§13.2.2.4).
fn send_ack_for<const N: usize>(
    ep: &mut crate::endpoint::Endpoint<'_>,
    dest: Destination,
    d: &Dialog<N>,
    seq: u32,
    branch: Branch,
    body: Option<&[u8]>,
) -> Result<(), UaError> {
    let mut routes = [""; MAX_ROUTES + 1];
    let mut parts = d.request("ACK", seq, None, &mut routes);
    let mut host = [0u8; 64];
    let host = host_of(&mut host, dest.local)?;
    parts.via = SentBy {
        transport: dest.transport.as_str(),
        host,
        port: Some(dest.local.port()),
        branch: branch.as_str(),
        rport: false,
    };
    if let Some(b) = body {
        parts.content_type = Some(SDP);
        parts.body = b;
    }
    let mut out = [0u8; 2048];
    let bytes = parts.write(&mut out).map_err(|_| UaError::BadInput)?;
    ep.send_stateless(dest.transport, dest.local, dest.remote, bytes)?;
    Ok(())
}

/// Who a request outside a dialog is from: our display name and AOR with a tag, our
/// Contact, and the outbound proxy's Route (§8.1.2), if any.
#[derive(Clone, Copy)]
pub(super) struct FromUs<'a> {
    display: Option<&'a str>,
    aor: &'a str,
    tag: &'a str,
    contact: &'a str,
    route: &'a [&'a str],
}

impl<'a> FromUs<'a> {
    /// Us, from the UA's configuration and names (its AOR and Contact spans), with `tag`;
    /// `route` is `[the outbound proxy's Route URI]`. Takes the UA's fields, not the UA, so
    /// that its endpoint stays free to send.
    pub(super) fn of(
        config: &UaConfig<'a>,
        names: &'a TextBuf<256>,
        (aor, contact): (Span, Span),
        tag: &'a str,
        route: &'a [&'a str; 1],
    ) -> FromUs<'a> {
        FromUs {
            display: config.display_name,
            aor: names.str(aor),
            tag,
            contact: names.str(contact),
            route: if config.outbound_proxy.is_some() {
                route
            } else {
                &[]
            },
        }
    }
}

/// A request outside any dialog (§8.1.1) to `to`: To without a tag, no body.
pub(super) fn outside_dialog<'a>(
    method: &'a str,
    to: &'a str,
    call_id: &'a str,
    cseq: u32,
    from: FromUs<'a>,
) -> RequestParts<'a> {
    RequestParts {
        method,
        request_uri: to,
        via: SentBy::FILLED_BY_ENDPOINT,
        max_forwards: 70,
        to: Address {
            display: None,
            uri: to,
            tag: None,
        },
        from: Address {
            display: from.display,
            uri: from.aor,
            tag: Some(from.tag),
        },
        call_id,
        cseq,
        contact: Some(from.contact),
        route: from.route,
        extra: &[],
        content_type: None,
        body: b"",
    }
}

/// `sip:domain`, the Request-URI of a REGISTER (§10.2).
fn registrar_uri<'b>(buf: &'b mut [u8], domain: &str) -> Result<&'b str, UaError> {
    let b = concat_into(buf, &[b"sip:", domain.as_bytes()]).ok_or(UaError::BadInput)?;
    core::str::from_utf8(b).map_err(|_| UaError::BadInput)
}

/// `<uri>` into a buffer.
pub(super) fn angle<'b>(buf: &'b mut [u8], uri: &str) -> Result<&'b [u8], UaError> {
    concat_into(buf, &[b"<", uri.as_bytes(), b">"]).ok_or(UaError::BadInput)
}

fn host_of(buf: &mut [u8; 64], a: SocketAddr) -> Result<&str, UaError> {
    let mut w = crate::message::Writer::new(&mut buf[..]);
    crate::message::ip::write_host_ip(&mut w, a.ip()).map_err(|_| UaError::BadInput)?;
    core::str::from_utf8(w.finish()).map_err(|_| UaError::BadInput)
}

/// The reason phrases of §21 for the codes a UA sends.
pub(super) fn reason_phrase(code: u16) -> &'static str {
    const CODES: [u16; 23] = [
        180, 183, 200, 400, 403, 404, 405, 415, 416, 420, 480, 481, 482, 486, 487, 488, 491, 500,
        501, 503, 600, 603, 606,
    ];
    // One string and an index: smaller in flash than a `match` of string constants.
    match CODES.iter().position(|&c| c == code) {
        Some(i) => crate::bytes::nth_phrase(
            "Ringing|Session Progress|OK|Bad Request|Forbidden|Not Found|Method Not Allowed|\
             Unsupported Media Type|Unsupported URI Scheme|Bad Extension|\
             Temporarily Unavailable|Call/Transaction Does Not Exist|Loop Detected|Busy Here|\
             Request Terminated|Not Acceptable Here|Request Pending|Server Internal Error|\
             Not Implemented|Service Unavailable|Busy Everywhere|Decline|Not Acceptable",
            i,
        ),
        None => "Unknown",
    }
}
