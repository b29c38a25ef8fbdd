//! The transaction layer (RFC 3261 §17): the four state machines, their timers, matching
//! keys, and the fixed-capacity table that holds them.
//!
//! The state machines are pure: they take inputs (a response code, the time, an ACK) and
//! return [`Effects`] for their owner to carry out. They hold no message bytes and do no I/O,
//! so every transition of Figures 5–8 (and RFC 6026's Accepted states) is tested directly.

mod client_invite;
mod client_non_invite;
mod effects;
pub(crate) mod key;
mod server_invite;
mod server_non_invite;
mod table;
mod timers;

pub use client_invite::{ClientInviteState, ClientInviteTransaction};
pub use client_non_invite::{ClientNonInviteState, ClientNonInviteTransaction};
pub use effects::{Effects, InvalidState};
pub use key::TransactionKey;
pub use server_invite::{ServerInviteState, ServerInviteTransaction};
pub use server_non_invite::{ServerNonInviteState, ServerNonInviteTransaction};
pub use table::{Slot, SlotId, Table, TableFull};
pub use timers::TimerConfig;

use crate::time::Instant;

/// Any of the four transaction state machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// INVITE client (§17.1.1).
    ClientInvite(ClientInviteTransaction),
    /// Non-INVITE client (§17.1.2).
    ClientNonInvite(ClientNonInviteTransaction),
    /// INVITE server (§17.2.1).
    ServerInvite(ServerInviteTransaction),
    /// Non-INVITE server (§17.2.2).
    ServerNonInvite(ServerNonInviteTransaction),
}

impl Machine {
    /// Whether this is a client transaction.
    pub fn is_client(&self) -> bool {
        matches!(self, Machine::ClientInvite(_) | Machine::ClientNonInvite(_))
    }

    /// Fires due timers, with the endpoint's timer values.
    pub fn on_timeout(&mut self, now: Instant, timers: &TimerConfig) -> Effects {
        match self {
            Machine::ClientInvite(t) => t.on_timeout(now, timers),
            Machine::ClientNonInvite(t) => t.on_timeout(now, timers),
            Machine::ServerInvite(t) => t.on_timeout(now, timers),
            Machine::ServerNonInvite(t) => t.on_timeout(now, timers),
        }
    }

    /// The next deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self {
            Machine::ClientInvite(t) => t.next_deadline(),
            Machine::ClientNonInvite(t) => t.next_deadline(),
            Machine::ServerInvite(t) => t.next_deadline(),
            Machine::ServerNonInvite(t) => t.next_deadline(),
        }
    }

    /// The transport failed.
    pub fn on_transport_error(&mut self) -> Effects {
        match self {
            Machine::ClientInvite(t) => t.on_transport_error(),
            Machine::ClientNonInvite(t) => t.on_transport_error(),
            Machine::ServerInvite(t) => t.on_transport_error(),
            Machine::ServerNonInvite(t) => t.on_transport_error(),
        }
    }
}
