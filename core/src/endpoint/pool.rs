//! The arena's region pool: message regions handed to transactions on demand and returned
//! as soon as a transaction's state no longer needs the bytes.
//!
//! ```text
//! arena: [fixed scratch region][pool region 0 .. N-1][free stack: N × u32]
//! ```
//!
//! A transaction holds at most two pool regions (its request and its last response). Each
//! state has a *budget*, the most regions the transaction may hold from now on; a new
//! transaction is admitted only if the pool can reserve its whole budget (two), so a
//! transaction never lacks the region for its response, and the pool never deadlocks with
//! every region held by requests waiting for responses. Budgets only shrink along a
//! transaction's life, so releasing a region never leaves a reservation unbacked.
//!
//! The free regions are a stack of indices kept at the arena's end: freeing a region writes
//! only there, never into the region, so bytes an output borrows stay intact until the next
//! input or command (the only places a region is taken and written).

use core::ops::Range;

use super::output::{EventKind, Part, Pending, Region};
use super::{Endpoint, EndpointError, Tx};
use crate::transaction::{
    ClientInviteState, ClientNonInviteState, Machine, ServerInviteState, ServerNonInviteState,
    SlotId,
};

/// No region.
pub(crate) const NO_REGION: u32 = u32::MAX;

/// Bytes of free-stack bookkeeping per pool region.
pub(crate) const STACK_ENTRY: usize = 4;

/// Which stored messages a transaction in this state still needs (request, response), by
/// RFC 3261 §17 and RFC 6026 — each release is a state where nothing reads those bytes
/// again. Bytes still referenced by a queued output are kept regardless (see
/// [`Endpoint::reclaim`]).
fn needs(m: &Machine, keep_accepted: bool) -> (bool, bool) {
    match m {
        Machine::ClientNonInvite(t) => match t.state() {
            // §17.1.2.2: Timer E retransmits the request until a final response; a
            // provisional response is needed only until its event is polled.
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding => (true, false),
            // §17.1.2.2 Completed: Timer K only absorbs retransmitted responses (no event, no
            // transmission); Terminated: the slot is being freed.
            ClientNonInviteState::Completed | ClientNonInviteState::Terminated => (false, false),
        },
        Machine::ClientInvite(t) => match t.state() {
            // §17.1.1.2: Timer A retransmits the INVITE; a CANCEL is built from it (§9.1).
            ClientInviteState::Calling | ClientInviteState::Proceeding => (true, false),
            // §17.1.1.2 Completed: each retransmitted final is answered with an ACK rebuilt
            // from the INVITE and that response (§17.1.1.3). The response is stored again
            // with every retransmission (within the budget), so only the INVITE is kept.
            ClientInviteState::Completed => (true, false),
            // RFC 6026 §8.4 Accepted: further 2xx go to the TU, which reads the INVITE
            // (`request_bytes`) to make the dialog of a forked 2xx (§13.2.2.4) — unless the
            // TU is a proxy that passes them on by Via (`Config::keep_accepted`).
            ClientInviteState::Accepted => (keep_accepted, false),
            ClientInviteState::Terminated => (false, false),
        },
        Machine::ServerNonInvite(t) => match t.state() {
            // §17.2.2 Trying/Proceeding: the TU reads the request until it answers
            // (`request_bytes`, responses copy its headers); the last provisional response is
            // resent on a retransmitted request.
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding => (true, true),
            // §17.2.2 Completed: a retransmitted request is answered with the stored final
            // response until Timer J; the request is never read again (no second final).
            ServerNonInviteState::Completed => (false, true),
            ServerNonInviteState::Terminated => (false, false),
        },
        Machine::ServerInvite(t) => match t.state() {
            // §17.2.1 Proceeding: the TU reads the INVITE until it answers; the last
            // provisional is resent on a retransmitted INVITE.
            ServerInviteState::Proceeding => (true, true),
            // §17.2.1 Completed: Timer G (and a retransmitted INVITE) resend the final
            // response until the ACK; no other response is allowed, the INVITE is not read.
            ServerInviteState::Completed => (false, true),
            // §17.2.1 Confirmed: Timer I only absorbs ACKs; nothing is sent.
            ServerInviteState::Confirmed => (false, false),
            // RFC 6026 §8.6 Accepted: the TU's 2xx retransmissions pass through
            // (`retransmit_response` resends the stored 2xx, `respond` rebuilds from the
            // INVITE), so both are kept until Timer L — unless the TU never does that
            // (`Config::keep_accepted`: a proxy).
            ServerInviteState::Accepted => (keep_accepted, keep_accepted),
            ServerInviteState::Terminated => (false, false),
        },
    }
}

/// The most regions a transaction in this state may hold from now on (what the pool
/// reserves for it). Along every transition of Figures 5–8 and RFC 6026 it only shrinks.
fn budget(m: &Machine, keep_accepted: bool) -> u8 {
    match m {
        Machine::ClientNonInvite(t) => match t.state() {
            // The request, and a response being delivered.
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding => 2,
            _ => 0,
        },
        Machine::ClientInvite(t) => match t.state() {
            // The INVITE, and a (retransmitted) response being delivered or ACKed.
            ClientInviteState::Terminated => 0,
            // Without the INVITE: room to deliver a retransmitted 2xx, for the proxy to
            // pass on.
            ClientInviteState::Accepted if !keep_accepted => 1,
            _ => 2,
        },
        Machine::ServerNonInvite(t) => match t.state() {
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding => 2,
            ServerNonInviteState::Completed => 1,
            ServerNonInviteState::Terminated => 0,
        },
        Machine::ServerInvite(t) => match t.state() {
            ServerInviteState::Proceeding => 2,
            ServerInviteState::Accepted => 2 * u8::from(keep_accepted),
            ServerInviteState::Completed => 1,
            ServerInviteState::Confirmed | ServerInviteState::Terminated => 0,
        },
    }
}

/// The arena split around one region being written: that region mutably, every other byte
/// readable (the regions a message is built from).
pub(super) struct Others<'a> {
    low: &'a [u8],
    high: &'a [u8],
    high_start: usize,
}

impl<'a> Others<'a> {
    /// The bytes at `r`; empty if `r` overlaps the region being written.
    pub(super) fn get(&self, r: Range<usize>) -> &'a [u8] {
        if r.end <= self.low.len() {
            self.low.get(r).unwrap_or(&[])
        } else if r.start >= self.high_start {
            self.high
                .get(r.start - self.high_start..r.end - self.high_start)
                .unwrap_or(&[])
        } else {
            &[]
        }
    }
}

/// Splits `arena` into `out` (mutable) and the rest (readable).
pub(super) fn split_out(arena: &mut [u8], out: Range<usize>) -> (Others<'_>, &mut [u8]) {
    let start = out.start.min(arena.len());
    let (low, rest) = arena.split_at_mut(start);
    let mid = out.len().min(rest.len());
    let (dst, high) = rest.split_at_mut(mid);
    (
        Others {
            low,
            high,
            high_start: start + mid,
        },
        dst,
    )
}

impl Endpoint<'_> {
    /// Pool regions in the arena.
    pub fn regions(&self) -> usize {
        self.pool_len as usize
    }

    /// Pool regions not held by a transaction or a scratch message.
    pub fn free_regions(&self) -> usize {
        self.free_len as usize
    }

    /// Pool regions held by transactions and scratch messages.
    pub fn regions_in_use(&self) -> usize {
        self.regions() - self.free_regions()
    }

    fn stack_entry(&self, i: u32) -> Range<usize> {
        let base = (1 + self.pool_len as usize) * self.config.max_message;
        let at = base + i as usize * STACK_ENTRY;
        at..at + STACK_ENTRY
    }

    /// Fills the free stack with every pool region.
    pub(super) fn init_pool(&mut self) {
        for i in (0..self.pool_len).rev() {
            self.push_region(i);
        }
    }

    /// The free region on top of the stack, left there (see [`Endpoint::ack_region`]).
    pub(super) fn peek_region(&self) -> Option<u32> {
        let top = self.free_len.checked_sub(1)?;
        let bytes: [u8; STACK_ENTRY] = self.arena.get(self.stack_entry(top))?.try_into().ok()?;
        let r = u32::from_le_bytes(bytes);
        (r < self.pool_len).then_some(r)
    }

    fn pop_region(&mut self) -> Option<u32> {
        if self.free_len == 0 {
            return None;
        }
        let e = self.stack_entry(self.free_len - 1);
        let bytes: [u8; STACK_ENTRY] = self.arena.get(e)?.try_into().ok()?;
        let r = u32::from_le_bytes(bytes);
        if r >= self.pool_len {
            return None;
        }
        self.free_len -= 1;
        Some(r)
    }

    fn push_region(&mut self, r: u32) {
        if r >= self.pool_len || self.free_len >= self.pool_len {
            return;
        }
        let e = self.stack_entry(self.free_len);
        if let Some(dst) = self.arena.get_mut(e) {
            dst.copy_from_slice(&r.to_le_bytes());
            self.free_len += 1;
        }
    }

    /// Whether a new transaction fits: its request region now and its response region
    /// reserved, over what is already reserved for the transactions in the table.
    pub(super) fn can_admit(&self) -> bool {
        self.free_len as usize >= self.reserved + 2
    }

    /// Gives a just-inserted transaction its request region and reserves its response
    /// region; `false` (nothing taken) if [`can_admit`](Self::can_admit) was not checked.
    pub(super) fn admit(&mut self, id: SlotId) -> bool {
        if !self.can_admit() || self.table.get(id).is_none() {
            return false;
        }
        let Some(r) = self.pop_region() else {
            return false;
        };
        if let Some(t) = self.table.get_mut(id) {
            t.request = r;
            t.reserved = 1;
        }
        self.reserved += 1;
        true
    }

    /// The transaction's response region, taken (from its reservation) if it has none.
    pub(super) fn response_region(&mut self, id: SlotId) -> Result<u32, EndpointError> {
        let t = self.table.get(id).ok_or(EndpointError::NoTransaction)?;
        if t.response != NO_REGION {
            return Ok(t.response);
        }
        let reserved = t.reserved > 0;
        // Without a reservation (never in a state that stores a response, see `budget`),
        // only a region nobody has reserved may be taken.
        if !reserved && self.free_len as usize <= self.reserved {
            return Err(EndpointError::TableFull);
        }
        let r = self.pop_region().ok_or(EndpointError::TableFull)?;
        if let Some(t) = self.table.get_mut(id) {
            t.response = r;
            if reserved {
                t.reserved -= 1;
                self.reserved = self.reserved.saturating_sub(1);
            }
        }
        Ok(r)
    }

    /// A pool region for a scratch message, if one is free beyond the reservations.
    pub(super) fn spare_region(&mut self) -> Option<u32> {
        if self.free_len as usize <= self.reserved {
            return None;
        }
        self.pop_region()
    }

    /// Returns a scratch message's pool region.
    pub(super) fn return_region(&mut self, r: u32) {
        self.push_region(r);
    }

    /// Which of the transaction's messages queued outputs still read (request, response).
    fn queued_parts(&self, id: SlotId) -> (bool, bool) {
        let (mut req, mut resp) = (false, false);
        for p in self.transmits.iter().chain(self.events.iter()) {
            match *p {
                Pending::Transmit { id: i, part } if i == id => match part {
                    Part::Request => req = true,
                    Part::Response => resp = true,
                },
                // The ACK is built from both when polled (§17.1.1.3).
                Pending::Ack { id: i } if i == id => {
                    req = true;
                    resp = true;
                }
                Pending::Event { id: i, kind } if i == id => match kind {
                    EventKind::Request { .. } => req = true,
                    EventKind::Response => resp = true,
                    _ => {}
                },
                _ => {}
            }
        }
        (req, resp)
    }

    /// Returns the regions the transaction's state no longer needs (and no queued output
    /// reads), and re-sizes its reservation to its state's budget.
    pub(super) fn reclaim(&mut self, id: SlotId) {
        // Field by field, not a copy of the whole `Tx` written back: the same result, less
        // code.
        let Some(t) = self.table.get(id) else {
            return;
        };
        let keep = self.config.keep_accepted;
        let (need_req, need_resp) = needs(&t.machine, keep);
        let budget = budget(&t.machine, keep);
        let (request, response, old_reserved) = (t.request, t.response, t.reserved);
        let (queued_req, queued_resp) = self.queued_parts(id);
        let free_req = request != NO_REGION && !need_req && !queued_req;
        if free_req {
            self.push_region(request);
        }
        let free_resp = response != NO_REGION && !need_resp && !queued_resp;
        if free_resp {
            self.push_region(response);
        }
        let held = u8::from(request != NO_REGION && !free_req)
            + u8::from(response != NO_REGION && !free_resp);
        let reserved = budget.saturating_sub(held);
        self.reserved =
            (self.reserved + usize::from(reserved)).saturating_sub(usize::from(old_reserved));
        if let Some(t) = self.table.get_mut(id) {
            if free_req {
                t.request = NO_REGION;
                t.request_len = 0;
            }
            if free_resp {
                t.response = NO_REGION;
                t.response_len = 0;
            }
            t.reserved = reserved;
        }
    }

    /// Removes a transaction, returning its regions and its reservation.
    pub(super) fn remove_tx(&mut self, id: SlotId) {
        if let Some(t) = self.table.remove(id) {
            self.release_all(&t);
        }
    }

    fn release_all(&mut self, t: &Tx) {
        for r in [t.request, t.response] {
            if r != NO_REGION {
                self.push_region(r);
            }
        }
        self.reserved = self.reserved.saturating_sub(usize::from(t.reserved));
    }

    /// The arena range of a pool region's first `len` bytes (empty if there is no region).
    pub(super) fn pool_bytes(&self, r: u32, len: usize) -> Range<usize> {
        if r == NO_REGION {
            return 0..0;
        }
        let range = self.region_range(Region::Pool(r));
        range.start..range.start + len.min(range.len())
    }
}
