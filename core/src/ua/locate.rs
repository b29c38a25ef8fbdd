//! RFC 3263 in the UA: a call to a URI whose host is a name runs a
//! [`Resolution`](crate::dns::Resolution) in a slot of the caller-lent resolution table,
//! asks its queries as [`UaEvent::Resolve`], sends the INVITE to the first target, and fails
//! over to the next one after a timeout, a transport failure or a 503 (§4.3).

use super::{CallState, EndReason, UaError, UaEvent, UserAgent};
use crate::dns::{Answer, Families, Resolution, TargetUri, Transports};
use crate::endpoint::Destination;
use crate::message::Uri;
use crate::time::Instant;

/// The query ids one resolution may use: its queries count up from the start of its block,
/// and it asks at most `1 + MAX_SERVICES + 2·TARGETS` (21) of them.
const QUERY_ID_SPAN: u32 = 64;

impl<'s, 'c, const S: usize, const T: usize, const E: usize, const I: usize>
    UserAgent<'s, 'c, S, T, E, I>
{
    /// RFC 3263 §4: resolves call `i`'s target (a SIP URI whose host is a name) in a free
    /// slot of the resolution table, for our one transport and address family.
    pub(super) fn start_resolution(
        &mut self,
        now: Instant,
        i: usize,
        target: &str,
    ) -> Result<(), UaError> {
        let slot = self.resolve_in_slot(target)?;
        self.calls[i].resolution = Some(slot);
        self.advance_resolution(now, i);
        Ok(())
    }

    /// Starts resolving `target` (a SIP URI) in a free slot, for our one transport and
    /// address family; the slot.
    fn resolve_in_slot(&mut self, target: &str) -> Result<u16, UaError> {
        if self.resolutions.is_empty() {
            return Err(UaError::Unresolvable);
        }
        let slot = self
            .resolutions
            .iter()
            .position(Resolution::is_idle)
            .ok_or(UaError::TooManyResolutions)?;
        let index = u16::try_from(slot).map_err(|_| UaError::TooManyResolutions)?;
        let uri = Uri::parse(target.as_bytes()).map_err(|_| UaError::BadInput)?;
        let target = TargetUri::from_uri(&uri).map_err(|_| UaError::Unresolvable)?;
        let first_id = self.next_query;
        self.next_query = self.next_query.wrapping_add(QUERY_ID_SPAN).max(1);
        // In place: a resolution is a kilobyte or so, not for a small stack.
        self.resolutions[slot]
            .start(
                &target,
                Transports::only(self.config.transport),
                Families::for_local(self.config.local.ip()),
                first_id,
            )
            .map_err(|_| UaError::Unresolvable)?;
        Ok(index)
    }

    /// Registers (§10.2) with the registrar of our domain, found as RFC 3261 §10.2.6 says:
    /// RFC 3263 on `sip:domain`, through [`UaEvent::Resolve`] and
    /// [`dns_answer`](Self::dns_answer). The REGISTER goes to the first target and, after
    /// a timeout, a transport failure or a 503 to that first REGISTER, to the next (RFC
    /// 3263 §4.3); refreshes go where the first one succeeded. No address at all is
    /// [`RegistrationEvent::Failed`](super::register::RegistrationEvent::Failed) with code
    /// 503. With an outbound proxy this is [`register`](Self::register) through it.
    pub fn register_domain(&mut self, now: Instant, expires: u32) -> Result<(), UaError> {
        if let Some(proxy) = self.config.outbound_proxy {
            return self.register(now, proxy, expires);
        }
        self.release_registrar_resolution();
        let mut buf = [0u8; crate::dns::MAX_HOST + 8];
        let uri = super::concat_into(&mut buf, &[b"sip:", self.config.domain.as_bytes()])
            .ok_or(UaError::BadInput)?;
        let uri = core::str::from_utf8(uri).map_err(|_| UaError::BadInput)?;
        let slot = self.resolve_in_slot(uri)?;
        self.registrar_lookup = Some((slot, expires));
        self.advance_registrar_resolution(now);
        Ok(())
    }

    /// The answer to the [`UaEvent::Resolve`] query `query`: records, none, or a failed
    /// lookup. The call's resolution goes on (another [`UaEvent::Resolve`]), or its INVITE
    /// goes to the first target, or the call ends ([`EndReason::Unresolvable`]) when there
    /// is none. An answer to a query nobody waits for is ignored.
    pub fn dns_answer(&mut self, now: Instant, query: u32, answer: Answer<'_>) {
        let Some(slot) = self.resolutions.iter().position(|r| r.awaits(query)) else {
            return;
        };
        let owner = self
            .calls
            .iter()
            .position(|c| c.in_use && c.resolution.is_some_and(|s| usize::from(s) == slot));
        // `awaits` held, so the answer is taken.
        let _ = self.resolutions[slot].answer(query, answer, self.ep.rng());
        match owner {
            Some(i) => self.advance_resolution(now, i),
            None if self
                .registrar_lookup
                .is_some_and(|(s, _)| usize::from(s) == slot) =>
            {
                self.advance_registrar_resolution(now)
            }
            // Nobody waits for it any more.
            None => self.resolutions[slot].clear(),
        }
        self.pump(now);
    }

    /// Asks the resolution's next query, or sends the INVITE to its first target.
    fn advance_resolution(&mut self, now: Instant, i: usize) {
        let query = match self.call_resolution(i) {
            Some(r) => r.query(),
            None => return,
        };
        if let Some(q) = query {
            self.emit(UaEvent::Resolve(q));
        } else if self.calls[i].cancel_requested {
            // Hung up while DNS was busy: nothing was sent, nothing to cancel.
            self.end_call(i, EndReason::Cancelled);
        } else if !self.try_next_target(now, i) {
            self.end_call(i, EndReason::Unresolvable);
        }
    }

    /// RFC 3263 §4.3: after a timeout, a transport failure or a 503 to an INVITE that got no
    /// provisional response, the same request goes to the next target as a new client
    /// transaction (a new Via branch; Call-ID, tags and CSeq unchanged). Whether it went.
    pub(super) fn fail_over(&mut self, now: Instant, i: usize) -> bool {
        let c = &self.calls[i];
        if c.resolution.is_none()
            || c.state != CallState::Calling
            || c.cancel_requested
            || c.redirects > 0
        {
            return false;
        }
        self.try_next_target(now, i)
    }

    /// Sends the INVITE to the next target that takes it; false when none is left.
    fn try_next_target(&mut self, now: Instant, i: usize) -> bool {
        let local = self.config.local;
        while let Some(t) = self.call_resolution_mut(i).and_then(|r| r.next_target()) {
            let dest = Destination {
                transport: t.transport,
                local,
                remote: t.addr,
            };
            if self.send_invite(now, i, dest, None).is_ok() {
                return true;
            }
        }
        false
    }

    /// Frees call `i`'s resolution slot: no more failover.
    pub(super) fn release_resolution(&mut self, i: usize) {
        if let Some(slot) = self.calls[i].resolution.take() {
            if let Some(r) = self.resolutions.get_mut(usize::from(slot)) {
                r.clear();
            }
        }
    }

    /// Asks the registrar resolution's next query, or sends the REGISTER to its first
    /// target.
    fn advance_registrar_resolution(&mut self, now: Instant) {
        let Some((slot, _)) = self.registrar_lookup else {
            return;
        };
        let query = self
            .resolutions
            .get(usize::from(slot))
            .and_then(Resolution::query);
        if let Some(q) = query {
            self.emit(UaEvent::Resolve(q));
        } else if !self.registrar_next_target(now) {
            self.release_registrar_resolution();
            self.emit(UaEvent::Registration(
                super::register::RegistrationEvent::Failed { code: 503 },
            ));
        }
    }

    /// RFC 3263 §4.3 for the first REGISTER to a registrar found by name: the next target,
    /// if any is left. Whether a REGISTER went.
    pub(super) fn registrar_fail_over(&mut self, now: Instant) -> bool {
        self.registrar_lookup.is_some() && self.registrar_next_target(now)
    }

    fn registrar_next_target(&mut self, now: Instant) -> bool {
        let Some((slot, expires)) = self.registrar_lookup else {
            return false;
        };
        while let Some(t) = self
            .resolutions
            .get_mut(usize::from(slot))
            .and_then(Resolution::next_target)
        {
            self.registrar = Some((t.addr, expires));
            if self.send_register(now, super::RegisterKind::Add).is_ok() {
                return true;
            }
        }
        false
    }

    /// Frees the registrar's resolution slot: no more failover.
    pub(super) fn release_registrar_resolution(&mut self) {
        if let Some((slot, _)) = self.registrar_lookup.take() {
            if let Some(r) = self.resolutions.get_mut(usize::from(slot)) {
                r.clear();
            }
        }
    }

    fn call_resolution(&self, i: usize) -> Option<&Resolution> {
        let slot = self.calls[i].resolution?;
        self.resolutions.get(usize::from(slot))
    }

    fn call_resolution_mut(&mut self, i: usize) -> Option<&mut Resolution> {
        let slot = self.calls[i].resolution?;
        self.resolutions.get_mut(usize::from(slot))
    }
}
