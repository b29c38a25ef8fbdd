//! What a transaction state machine asks its owner to do after an input.

/// The effects of one input to a transaction state machine. The machine keeps no message
/// bytes: its owner (the endpoint) keeps the request or the last response and carries these
/// out.
#[must_use]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Send (or send again) the stored message: the request for a client transaction, the
    /// most recent response for a server transaction.
    pub transmit: bool,
    /// Send the ACK for a non-2xx final response (client INVITE, §17.1.1.3).
    pub send_ack: bool,
    /// Pass the message just received up to the TU.
    pub deliver: bool,
    /// Send a 100 Trying on the TU's behalf (server INVITE, §17.2.1).
    pub send_trying: bool,
    /// Tell the TU the transaction timed out (Timers B, F, H).
    pub timed_out: bool,
    /// Tell the TU the transport failed (§17.1.4, §17.2.4).
    pub transport_error: bool,
    /// The transaction has ended: free its slot.
    pub terminated: bool,
}

impl Effects {
    /// No effect.
    pub const NONE: Effects = Effects {
        transmit: false,
        send_ack: false,
        deliver: false,
        send_trying: false,
        timed_out: false,
        transport_error: false,
        terminated: false,
    };

    pub(crate) const fn transmit() -> Effects {
        Effects {
            transmit: true,
            ..Effects::NONE
        }
    }

    pub(crate) const fn deliver() -> Effects {
        Effects {
            deliver: true,
            ..Effects::NONE
        }
    }

    pub(crate) const fn terminated() -> Effects {
        Effects {
            terminated: true,
            ..Effects::NONE
        }
    }
}

/// A TU asked a transaction for something its state does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidState;

impl core::fmt::Display for InvalidState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not allowed in the transaction's current state")
    }
}

impl core::error::Error for InvalidState {}

pub(crate) use crate::time::earliest;

/// Whether an optional deadline has come.
pub(crate) fn due(deadline: Option<crate::time::Instant>, now: crate::time::Instant) -> bool {
    deadline.is_some_and(|d| d <= now)
}
