//! One call: an INVITE session (§13–15) and its dialog, in fixed storage.

use crate::dialog::{Dialog, TextBuf, DIALOG_TEXT};
use crate::endpoint::TransactionId;
use crate::time::{Duration, Instant};

/// The largest session description a call keeps (ours, the peer's, a pending offer).
pub const SDP_MAX: usize = 1024;
/// The bytes a [`Call`] keeps for its session descriptions by default (its `SDP`): room for
/// all three at [`SDP_MAX`]. A phone whose descriptions are a few hundred bytes picks less
/// (1024 holds three of 340 bytes); a description that does not fit is refused
/// ([`UaError::BadInput`](super::UaError::BadInput) for ours), never truncated.
pub const SDP_STORE: usize = 3 * SDP_MAX;
/// The most early dialogs (forks) an outgoing call tracks (§12.1.2, §13.2.2.4).
pub const MAX_FORKS: usize = 4;
/// The bytes a [`Call`] keeps for its own text by default (its `ID`): the Call-ID, our tag,
/// the peer's From tag (callee) or our first Request-URI (caller), then the To tags of the
/// early dialogs (forks) seen. Identity text that does not fit refuses the call (500 to an
/// incoming INVITE, [`UaError::BadInput`](super::UaError::BadInput) for ours); a fork tag
/// that does not fit is not remembered (each response with it counts as a new fork). The
/// identity is a part of the dialog text, so a phone with a small `TEXT` picks a small
/// `ID` too.
pub const CALL_TEXT: usize = 768;

/// A call, as the application names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId {
    pub(crate) index: u16,
    pub(crate) gen: u16,
}

/// Which side of the INVITE we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE.
    Caller,
    /// We received it.
    Callee,
}

/// Where a call stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Caller: INVITE sent, no provisional yet.
    Calling,
    /// Caller: a provisional arrived (possibly several early dialogs).
    Ringing,
    /// Callee: INVITE received, not answered yet (ringing or not).
    Incoming,
    /// Callee: 2xx sent, waiting for the ACK (§13.3.1.4).
    Answered,
    /// Caller: 2xx received with an offer; waiting for the application's answer for the ACK.
    AwaitingAck,
    /// The session is established.
    Confirmed,
    /// BYE sent, waiting for its response.
    Ending,
    /// Over.
    Ended,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up with BYE.
    LocalBye,
    /// The peer hung up with BYE.
    RemoteBye,
    /// The INVITE was cancelled (by us or by the caller).
    Cancelled,
    /// The INVITE was answered with this final non-2xx status.
    Rejected(u16),
    /// No response (Timer B) or the transport failed.
    Timeout,
    /// We answered but no ACK came within 64·T1; we sent BYE (§13.3.1.4).
    NoAck,
    /// The target's host name has no address (RFC 3263).
    Unresolvable,
}

/// Which of a call's session descriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sdp {
    /// Ours, as last sent.
    Local,
    /// The peer's, as last received.
    Remote,
    /// A re-INVITE's offer not yet accepted: ours (sent, or waiting for a glare retry) or
    /// the peer's (received, not yet answered).
    Pending,
}

/// A call's session descriptions (ours, the peer's, a pending re-INVITE offer) in one
/// store of `N` bytes: each is at most [`SDP_MAX`] bytes, and together at most `N`.
/// A description that does not fit is refused and the old one kept: never truncated.
#[derive(Clone, Debug)]
pub(crate) struct SdpStore<const N: usize> {
    bytes: [u8; N],
    /// `(start, len)` of each description in `bytes`, by [`Sdp`] index.
    spans: [(u16, u16); 3],
}

impl<const N: usize> SdpStore<N> {
    pub(crate) const fn new() -> Self {
        SdpStore {
            bytes: [0; N],
            spans: [(0, 0); 3],
        }
    }

    fn span(&self, which: Sdp) -> (usize, usize) {
        let (start, len) = self.spans[which as usize];
        (start as usize, len as usize)
    }

    /// The description, if set and not empty.
    pub(crate) fn get(&self, which: Sdp) -> Option<&[u8]> {
        let (start, len) = self.span(which);
        (len > 0).then(|| self.bytes.get(start..start + len).unwrap_or(&[]))
    }

    /// Stores `b` as `which`; false (and unchanged) if it does not fit.
    pub(crate) fn set(&mut self, which: Sdp, b: &[u8]) -> bool {
        let others: usize = [Sdp::Local, Sdp::Remote, Sdp::Pending]
            .into_iter()
            .filter(|&w| w != which)
            .map(|w| self.span(w).1)
            .sum();
        // Offsets are u16: a store beyond 64 KiB uses only its first 64 KiB.
        if b.len() > SDP_MAX || others + b.len() > N.min(u16::MAX as usize) {
            return false;
        }
        self.spans[which as usize] = (0, 0);
        let end = self.compact();
        self.bytes[end..end + b.len()].copy_from_slice(b);
        // `end + b.len() <= others + b.len()`, checked above to fit in N and in u16.
        self.spans[which as usize] = (end as u16, b.len() as u16);
        true
    }

    /// Moves the live descriptions to the front, in order; where free space starts.
    fn compact(&mut self) -> usize {
        // The three spans in address order: three compare-and-swaps (no sort routine).
        // Equal starts are an empty span and another, and empty spans are skipped.
        let mut order = [0usize, 1, 2];
        let mut k = 0;
        while k < 3 {
            // Positions 0-1, 1-2, 0-1.
            let j = k % 2;
            if self.spans[order[j + 1]].0 < self.spans[order[j]].0 {
                order.swap(j, j + 1);
            }
            k += 1;
        }
        let mut end = 0;
        for i in order {
            let (start, len) = (self.spans[i].0 as usize, self.spans[i].1 as usize);
            if len == 0 {
                continue;
            }
            // Spans are disjoint and taken in address order, so `end <= start`; every span
            // lies within the store's first `u16::MAX` bytes (see `set`).
            crate::bytes::copy_within(&mut self.bytes, start..start + len, end);
            self.spans[i] = (end as u16, len as u16);
            end += len;
        }
        end
    }

    /// `from` becomes `to` (no copy); `from` is cleared.
    pub(crate) fn promote(&mut self, from: Sdp, to: Sdp) {
        self.spans[to as usize] = self.spans[from as usize];
        self.spans[from as usize] = (0, 0);
    }

    pub(crate) fn clear(&mut self, which: Sdp) {
        self.spans[which as usize] = (0, 0);
    }

    pub(crate) fn clear_all(&mut self) {
        self.spans = [(0, 0); 3];
    }
}

/// A re-INVITE in progress (§14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reinvite {
    /// None pending.
    Idle,
    /// We sent one in this transaction with this CSeq.
    Sent { tx: TransactionId, seq: u32 },
    /// We received one; the application must accept or reject it.
    Received { tx: TransactionId },
    /// We accepted a received one with a 2xx and wait for its ACK.
    AnsweredWaitingAck { tx: TransactionId },
}

/// UAS 2xx retransmission (§13.3.1.4): T1 doubling to T2 until the ACK; give up at 64·T1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OkRetransmit {
    pub(crate) tx: TransactionId,
    pub(crate) next: Instant,
    pub(crate) interval: Duration,
    pub(crate) give_up: Instant,
}

/// One call's state, with `SDP` bytes for its session descriptions ([`SDP_STORE`] by
/// default), `TEXT` bytes for its dialog ([`DIALOG_TEXT`] by default) and `ID` bytes for
/// its own text ([`CALL_TEXT`] by default).
#[derive(Clone, Debug)]
pub struct Call<
    const SDP: usize = SDP_STORE,
    const TEXT: usize = DIALOG_TEXT,
    const ID: usize = CALL_TEXT,
> {
    pub(crate) gen: u16,
    pub(crate) in_use: bool,
    pub(crate) role: Role,
    pub(crate) state: CallState,
    /// The dialog once one exists (the first early dialog, then the confirmed one).
    pub(crate) dialog: Option<Dialog<TEXT>>,
    /// Early dialogs (forks) seen: their To tags are in `ids` from `forks_at` on.
    pub(crate) fork_count: usize,
    /// Where the fork tags start in `ids` (meaningful once `fork_count` > 0).
    pub(crate) forks_at: usize,
    /// The call's own text: the identity (Call-ID, our tag, the peer's From tag or our first
    /// Request-URI), stored when the call starts, then the fork tags, NUL-separated.
    pub(crate) ids: TextBuf<ID>,
    pub(crate) call_id: crate::dialog::Span,
    pub(crate) local_tag: crate::dialog::Span,
    pub(crate) from_tag_remote: crate::dialog::Span,
    /// The initial INVITE's transaction and CSeq.
    pub(crate) invite_tx: Option<TransactionId>,
    pub(crate) invite_seq: u32,
    pub(crate) cancel_requested: bool,
    pub(crate) cancelled: bool,
    pub(crate) bye_tx: Option<TransactionId>,
    pub(crate) reinvite: Reinvite,
    /// A re-INVITE answered 491: try again at this time (§14.1), with the offer kept as
    /// [`Sdp::Pending`].
    pub(crate) glare_retry: Option<Instant>,
    pub(crate) ok_retransmit: Option<OkRetransmit>,
    /// Our current session description, the peer's, and a pending re-INVITE offer.
    pub(crate) sdp: SdpStore<SDP>,
    /// Callee: the INVITE had no offer, so our 2xx carries the offer and the ACK the answer.
    pub(crate) offer_in_answer: bool,
    /// Branch of the ACK for the 2xx, so retransmitted ACKs are identical (§13.2.2.4).
    pub(crate) ack_branch: crate::rand::Branch,
    pub(crate) end_reason: Option<EndReason>,
    /// 3xx responses followed so far (§8.1.3.4; feature `follow-redirects`).
    #[cfg_attr(
        not(any(feature = "follow-redirects", feature = "dns")),
        allow(dead_code)
    )]
    pub(crate) redirects: u8,
    /// The Request-URI of our first INVITE.
    pub(crate) target: crate::dialog::Span,
    /// The slot of the UA's resolution table holding this call's RFC 3263 resolution (the
    /// INVITE waits for it, or may fail over to its next target, §4.3). Feature `dns`.
    #[cfg(feature = "dns")]
    pub(crate) resolution: Option<u16>,
}

impl<const SDP: usize, const TEXT: usize, const ID: usize> Default for Call<SDP, TEXT, ID> {
    fn default() -> Self {
        Call {
            gen: 0,
            in_use: false,
            role: Role::Caller,
            state: CallState::Ended,
            dialog: None,
            fork_count: 0,
            forks_at: 0,
            ids: TextBuf::new(),
            call_id: crate::dialog::Span::EMPTY,
            local_tag: crate::dialog::Span::EMPTY,
            from_tag_remote: crate::dialog::Span::EMPTY,
            invite_tx: None,
            invite_seq: 0,
            cancel_requested: false,
            cancelled: false,
            bye_tx: None,
            reinvite: Reinvite::Idle,
            glare_retry: None,
            ok_retransmit: None,
            sdp: SdpStore::new(),
            offer_in_answer: false,
            ack_branch: crate::rand::Branch::new(&mut crate::rand::Rng::new(0)),
            end_reason: None,
            redirects: 0,
            target: crate::dialog::Span::EMPTY,
            #[cfg(feature = "dns")]
            resolution: None,
        }
    }
}

impl<const SDP: usize, const TEXT: usize, const ID: usize> Call<SDP, TEXT, ID> {
    pub(crate) fn call_id(&self) -> &str {
        self.ids.str(self.call_id)
    }

    pub(crate) fn local_tag(&self) -> &str {
        self.ids.str(self.local_tag)
    }

    /// Records a fork's To tag; whether it is new.
    pub(crate) fn add_fork(&mut self, tag: &str) -> bool {
        if self.fork_count == 0 {
            // The first fork: the identity text is complete, the tags go after it.
            self.forks_at = self.ids.used();
        }
        // Tags are stored NUL-separated; compare each.
        let forks = self.ids.prefix().get(self.forks_at..).unwrap_or(&[]);
        if forks
            .split(|&b| b == 0)
            .any(|t| !t.is_empty() && t == tag.as_bytes())
        {
            return false;
        }
        if self.fork_count < MAX_FORKS && self.ids.push(tag.as_bytes()).is_ok() {
            let _ = self.ids.push(&[0]);
            self.fork_count += 1;
        }
        true
    }

    /// Forgets the forks seen (a new INVITE after a redirect, §8.1.3.4); the identity
    /// text stays.
    #[cfg(any(test, feature = "follow-redirects"))]
    pub(crate) fn clear_forks(&mut self) {
        if self.fork_count > 0 {
            self.ids.truncate(self.forks_at);
        }
        self.fork_count = 0;
    }

    /// The next time this call wants the clock.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let ok = self.ok_retransmit.map(|r| r.next.min(r.give_up));
        crate::time::earlier(ok, self.glare_retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_tags_follow_the_identity_and_clear_alone() {
        let mut c = Call::<0, 0, 32>::default();
        c.call_id = c.ids.push(b"abc@host").unwrap();
        c.local_tag = c.ids.push(b"t1").unwrap();
        assert!(c.add_fork("x"));
        assert!(!c.add_fork("x"));
        assert!(c.add_fork("yy"));
        assert_eq!(c.fork_count, 2);
        c.clear_forks();
        assert_eq!(c.fork_count, 0);
        assert_eq!((c.call_id(), c.local_tag()), ("abc@host", "t1"));
        assert!(c.add_fork("x"));
        // Full: a tag that does not fit is not remembered, so it is new each time.
        assert!(c.add_fork("a-tag-longer-than-the-room-left"));
        assert!(c.add_fork("a-tag-longer-than-the-room-left"));
        assert_eq!(c.fork_count, 1);
    }
}
