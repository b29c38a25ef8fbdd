//! RFC 3263 in the proxy (RFC 3261 §16.6 step 6–7: "the proxy ... uses the procedures of
//! [4] (RFC 3263)" for the next hop): a branch whose next hop is a host name no
//! [`Locator`] table knows runs a [`Resolution`] in a slot of the caller-lent resolution
//! table, asks its queries as [`ProxyEvent::Resolve`], is sent to the first target, and
//! fails over to the next one after a timeout, a transport failure or a 503 (§4.3), as a
//! new client transaction with a new branch for the same forwarded request.

use super::{BranchState, Locator, Proxy, ProxyEvent, ResolutionSlot, NO_BRANCH};
use crate::dns::{Answer, Families, Resolution, TargetUri, Transports};
use crate::message::Uri;
use crate::storage::Storage;
use crate::time::Instant;
use crate::transport::Transport;

/// The query ids one resolution may use: its queries count up from the start of its block,
/// and it asks at most `1 + MAX_SERVICES + 2·TARGETS` (21) of them.
const QUERY_ID_SPAN: u32 = 64;

/// The transports a forwarded request goes out on (RFC 3263 §4.1 keeps only NAPTR services
/// and SRV transports the client supports): UDP, and TCP (§18.1.1).
const SUPPORTED: Transports = Transports::UDP.with(Transport::Tcp);

impl<'s, 'c, L: Locator> Proxy<'s, 'c, L> {
    /// Lends the proxy a table for RFC 3263 (`table.len()` resolutions at once): a branch
    /// whose next hop is a host name the [`Locator`] does not know resolves it through
    /// [`ProxyEvent::Resolve`] and [`dns_answer`](Self::dns_answer), is sent to the first
    /// target, and fails over to the next after a timeout, a transport failure or a 503
    /// (§4.3). A slot is held from the first query until the request's response context
    /// ends. A full table fails the branch as our own overload (503 with Retry-After when no
    /// branch could start, §21.5.4); without a table such a branch is unreachable.
    pub fn with_resolutions(mut self, table: impl Into<Storage<'s, ResolutionSlot>>) -> Self {
        self.resolutions = table.into();
        for slot in self.resolutions.iter_mut() {
            slot.clear();
        }
        self
    }

    /// Resolution slots in use.
    pub fn resolutions_in_use(&self) -> usize {
        self.resolutions.iter().filter(|r| !r.is_idle()).count()
    }

    /// RFC 3263 for branch `k` of context `ci` when its next hop `hop` needs DNS: `None` when
    /// it does not (an address, or a name the [`Locator`] knows) or when DNS gave a target
    /// at once (then in the branch's `resolved`); `Some(true)` when the branch now waits for
    /// a DNS answer; `Some(false)` when it cannot be reached.
    pub(super) fn resolve_hop(
        &mut self,
        _now: Instant,
        ci: usize,
        k: usize,
        hop: &Uri<'_>,
    ) -> Option<bool> {
        let crate::dialog::NextHop::Resolve { host, port } = crate::dialog::next_hop(hop)? else {
            return None;
        };
        // Names known without DNS first (the operator's static table).
        if self
            .locator
            .resolve(host, port, self.config.transport)
            .is_some()
        {
            return None;
        }
        let Ok(target) = TargetUri::from_uri(hop) else {
            self.note_unreachable(ci);
            return Some(false);
        };
        let Some(slot) = self.resolutions.iter().position(Resolution::is_idle) else {
            if !self.resolutions.is_empty() {
                // Our capacity, not the next hop's.
                self.branch_table_full = true;
            }
            self.note_unreachable(ci);
            return Some(false);
        };
        let Ok(index) = u16::try_from(slot) else {
            self.note_unreachable(ci);
            return Some(false);
        };
        let first_id = self.next_query;
        self.next_query = self.next_query.wrapping_add(QUERY_ID_SPAN).max(1);
        let families = Families::for_local(self.config.local.ip());
        // In place: a resolution is a kilobyte or so, not for a small stack.
        if self.resolutions[slot]
            .start(&target, SUPPORTED, families, first_id)
            .is_err()
        {
            self.note_unreachable(ci);
            return Some(false);
        }
        let b = &mut self.contexts[ci].branches[k];
        b.resolution = Some(index);
        if let Some(q) = self.resolutions[slot].query() {
            b.state = BranchState::Resolving;
            self.emit(ProxyEvent::Resolve(q));
            return Some(true);
        }
        // Done at once (a numeric `maddr`, say): the first target.
        match self.resolutions[slot].next_target() {
            Some(t) => {
                self.contexts[ci].branches[k].resolved = Some(t);
                None
            }
            None => {
                self.note_unreachable(ci);
                Some(false)
            }
        }
    }

    /// The answer to the [`ProxyEvent::Resolve`] query `query`: records, none, or a failed
    /// lookup. The branch's resolution goes on (another [`ProxyEvent::Resolve`]), or the
    /// request goes to the first target (RFC 3263 §4.3), or, with no target at all, the
    /// branch fails as a 503 would (§16.7 step 6 turns a lone 503 into 500). An answer to a
    /// query nobody waits for is ignored. Then drain [`poll_transmit`](Self::poll_transmit).
    pub fn dns_answer(&mut self, now: Instant, query: u32, answer: Answer<'_>) {
        let Some(slot) = self.resolutions.iter().position(|r| r.awaits(query)) else {
            return;
        };
        let owner = self.contexts.iter().enumerate().find_map(|(ci, c)| {
            let k = c.branches.iter().position(|b| {
                b.state == BranchState::Resolving
                    && b.resolution.is_some_and(|s| usize::from(s) == slot)
            })?;
            c.in_use.then_some((ci, k))
        });
        // `awaits` held, so the answer is taken.
        let _ = self.resolutions[slot].answer(query, answer, self.ep.rng());
        let Some((ci, k)) = owner else {
            // Nobody waits for it any more.
            self.resolutions[slot].clear();
            return;
        };
        match self.resolutions[slot].query() {
            Some(q) => self.emit(ProxyEvent::Resolve(q)),
            None => {
                self.next_target(now, ci, k);
            }
        }
        self.pump(now);
    }

    /// RFC 3263 §4.3 after a timeout, a transport failure or a 503 on branch `k`: the same
    /// request to the branch's next target, unless the request is being cancelled (§16.10,
    /// Timer C) or answered (a 2xx or 6xx, §16.7 step 10). Whether it went.
    pub(super) fn fail_over(&mut self, now: Instant, ci: usize, k: usize) -> bool {
        let c = &self.contexts[ci];
        let b = &c.branches[k];
        let left = b
            .resolution
            .and_then(|s| self.resolutions.get(usize::from(s)))
            .is_some_and(|r| r.remaining() > 0);
        if !left
            || b.cancel_pending
            || c.cancelled
            || c.answered_2xx
            || (600..700).contains(&c.best_code)
            || c.server_tx.is_none()
        {
            return false;
        }
        self.next_target(now, ci, k)
    }

    /// Sends branch `k` to its resolution's next target, as a new client transaction (a new
    /// Via branch, §16.6 step 8) for the request read back from the server transaction.
    /// With none left the branch fails as unreachable. Whether it went.
    fn next_target(&mut self, now: Instant, ci: usize, k: usize) -> bool {
        let slot = self.contexts[ci].branches[k].resolution;
        let next = slot
            .and_then(|s| self.resolutions.get_mut(usize::from(s)))
            .and_then(Resolution::next_target);
        let stx = self.contexts[ci].server_tx;
        let (Some(t), Some(stx)) = (next, stx) else {
            self.contexts[ci].branches[k].state = BranchState::Done;
            self.note_unreachable(ci);
            self.maybe_finish(now, ci, &mut []);
            return false;
        };
        let b = &mut self.contexts[ci].branches[k];
        *b = super::BranchCtx {
            state: BranchState::Waiting,
            resolved: Some(t),
            target: b.target,
            resolution: b.resolution,
            ..NO_BRANCH
        };
        self.restart_branch(now, ci, Some(k), stx);
        self.contexts[ci].branches[k].state != BranchState::Done
    }

    /// A branch found no server (RFC 3263 §4.3 ran out, or DNS could not be asked): it
    /// counts as a 503 (§16.7 step 6).
    fn note_unreachable(&mut self, ci: usize) {
        let c = &mut self.contexts[ci];
        if super::better(503, c.best_code) {
            c.best_code = 503;
            c.best_len = 0;
        }
    }

    /// Ends context `ci`, freeing its branches' resolution slots.
    pub(super) fn free_context(&mut self, ci: usize) {
        let c = &mut self.contexts[ci];
        c.in_use = false;
        for b in c.branches.iter_mut() {
            if let Some(slot) = b.resolution.take() {
                if let Some(r) = self.resolutions.get_mut(usize::from(slot)) {
                    r.clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
