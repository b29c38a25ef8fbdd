//! One call: an INVITE session (§13–15) and its dialog, in fixed storage.

use crate::dialog::{Dialog, TextBuf};
use crate::endpoint::TransactionId;
use crate::time::{Duration, Instant};

/// The largest session description a call keeps (each direction).
pub const SDP_MAX: usize = 1024;
/// The most early dialogs (forks) an outgoing call tracks (§12.1.2, §13.2.2.4).
pub const MAX_FORKS: usize = 4;

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

/// Bytes of one session description.
#[derive(Clone, Debug)]
pub(crate) struct SdpBuf {
    pub(crate) bytes: [u8; SDP_MAX],
    pub(crate) len: usize,
}

impl SdpBuf {
    pub(crate) const fn new() -> Self {
        SdpBuf {
            bytes: [0; SDP_MAX],
            len: 0,
        }
    }

    /// Stores `b`; false (and unchanged) if it does not fit.
    pub(crate) fn set(&mut self, b: &[u8]) -> bool {
        match self.bytes.get_mut(..b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len = b.len();
                true
            }
            None => false,
        }
    }

    pub(crate) fn get(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.bytes[..self.len])
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
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

/// One call's state.
#[derive(Clone, Debug)]
pub struct Call {
    pub(crate) gen: u16,
    pub(crate) in_use: bool,
    pub(crate) role: Role,
    pub(crate) state: CallState,
    /// The dialog once one exists (the first early dialog, then the confirmed one).
    pub(crate) dialog: Option<Dialog>,
    /// To tags of the early dialogs seen (forks), as text.
    pub(crate) forks: TextBuf<256>,
    pub(crate) fork_count: usize,
    /// Identity text: Call-ID, our tag, remote URI (before a dialog exists).
    pub(crate) ids: TextBuf<512>,
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
    /// A re-INVITE answered 491: try again at this time (§14.1), with this offer kept in
    /// `pending_offer`.
    pub(crate) glare_retry: Option<Instant>,
    pub(crate) pending_offer: SdpBuf,
    pub(crate) ok_retransmit: Option<OkRetransmit>,
    /// Our current session description and the peer's.
    pub(crate) local_sdp: SdpBuf,
    pub(crate) remote_sdp: SdpBuf,
    /// Callee: the INVITE had no offer, so our 2xx carries the offer and the ACK the answer.
    pub(crate) offer_in_answer: bool,
    /// Branch of the ACK for the 2xx, so retransmitted ACKs are identical (§13.2.2.4).
    pub(crate) ack_branch: crate::rand::Branch,
    pub(crate) end_reason: Option<EndReason>,
    /// 3xx responses followed so far (§8.1.3.4).
    pub(crate) redirects: u8,
    /// The Request-URI of our first INVITE.
    pub(crate) target: crate::dialog::Span,
    /// A DNS query (RFC 3263) the INVITE waits for.
    pub(crate) resolving: Option<u32>,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            gen: 0,
            in_use: false,
            role: Role::Caller,
            state: CallState::Ended,
            dialog: None,
            forks: TextBuf::new(),
            fork_count: 0,
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
            pending_offer: SdpBuf::new(),
            ok_retransmit: None,
            local_sdp: SdpBuf::new(),
            remote_sdp: SdpBuf::new(),
            offer_in_answer: false,
            ack_branch: crate::rand::Branch::new(&mut crate::rand::Rng::new(0)),
            end_reason: None,
            redirects: 0,
            target: crate::dialog::Span::EMPTY,
            resolving: None,
        }
    }
}

impl Call {
    pub(crate) fn call_id(&self) -> &str {
        self.ids.str(self.call_id)
    }

    pub(crate) fn local_tag(&self) -> &str {
        self.ids.str(self.local_tag)
    }

    /// Records a fork's To tag; whether it is new.
    pub(crate) fn add_fork(&mut self, tag: &str) -> bool {
        // Tags are stored NUL-separated; compare each.
        if self
            .forks
            .prefix()
            .split(|&b| b == 0)
            .any(|t| !t.is_empty() && t == tag.as_bytes())
        {
            return false;
        }
        if self.fork_count < MAX_FORKS && self.forks.push(tag.as_bytes()).is_ok() {
            let _ = self.forks.push(&[0]);
            self.fork_count += 1;
        }
        true
    }

    /// The next time this call wants the clock.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let ok = self.ok_retransmit.map(|r| r.next.min(r.give_up));
        [ok, self.glare_retry].into_iter().flatten().min()
    }
}
