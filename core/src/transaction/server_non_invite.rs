//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use super::effects::{due, earliest, Effects, InvalidState};
use super::timers::TimerConfig;
use crate::time::Instant;

/// States of Figure 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// The request was passed to the TU; retransmissions are absorbed.
    Trying,
    /// A provisional was sent; retransmissions resend it.
    Proceeding,
    /// A final response was sent; retransmissions resend it until Timer J.
    Completed,
    /// Done.
    Terminated,
}

/// A non-INVITE server transaction's state and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerNonInviteTransaction {
    state: ServerNonInviteState,
    reliable: bool,
    timer_j: Option<Instant>,
}

impl ServerNonInviteTransaction {
    /// Starts the transaction: pass the request to the TU. Nothing is timed yet (Timer J
    /// starts with the final response, from the `timers` given then); `timers` is taken so
    /// the four machines start alike.
    pub fn start(reliable: bool, _timers: TimerConfig) -> (Self, Effects) {
        let t = ServerNonInviteTransaction {
            state: ServerNonInviteState::Trying,
            reliable,
            timer_j: None,
        };
        (t, Effects::deliver())
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// The request arrived again.
    pub fn on_request(&mut self) -> Effects {
        match self.state {
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed => {
                Effects::transmit()
            }
            _ => Effects::NONE,
        }
    }

    /// Whether the TU may send a response with this code now.
    pub fn can_respond(&self, code: u16) -> bool {
        matches!(
            (self.state, code),
            (
                ServerNonInviteState::Trying | ServerNonInviteState::Proceeding,
                100..=699
            )
        )
    }

    /// The TU sends a response with this status code.
    ///
    /// `timers`: the endpoint's timer values, as for `on_timeout`.
    pub fn on_tu_response(
        &mut self,
        now: Instant,
        timers: &TimerConfig,
        code: u16,
    ) -> Result<Effects, InvalidState> {
        use ServerNonInviteState::*;
        match (self.state, code) {
            (Trying | Proceeding, 100..=199) => {
                self.state = Proceeding;
                Ok(Effects::transmit())
            }
            (Trying | Proceeding, 200..=699) => {
                let j = timers.j(self.reliable);
                let mut fx = Effects::transmit();
                if j.is_zero() {
                    self.state = Terminated;
                    fx.terminated = true;
                } else {
                    self.state = Completed;
                    self.timer_j = Some(now + j);
                }
                Ok(fx)
            }
            _ => Err(InvalidState),
        }
    }

    /// Time has come to `now`.
    ///
    /// `timers` are the values the transaction was started with: the endpoint keeps one
    /// copy for all its transactions, not one in each (RAM on a small device).
    pub fn on_timeout(&mut self, now: Instant, _timers: &TimerConfig) -> Effects {
        if self.state == ServerNonInviteState::Completed && due(self.timer_j, now) {
            self.state = ServerNonInviteState::Terminated;
            self.timer_j = None;
            return Effects::terminated();
        }
        Effects::NONE
    }

    /// The transport could not send a response (§17.2.4).
    pub fn on_transport_error(&mut self) -> Effects {
        if self.state == ServerNonInviteState::Terminated {
            return Effects::NONE;
        }
        self.state = ServerNonInviteState::Terminated;
        Effects {
            transport_error: true,
            terminated: true,
            ..Effects::NONE
        }
    }

    /// When [`on_timeout`](Self::on_timeout) should next be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        earliest([self.timer_j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn walk() {
        let (mut t, fx) = ServerNonInviteTransaction::start(false, TimerConfig::default());
        assert_eq!(fx, Effects::deliver());
        assert_eq!(t.on_request(), Effects::NONE);
        assert_eq!(
            t.on_tu_response(ms(10), &TimerConfig::default(), 100),
            Ok(Effects::transmit())
        );
        assert_eq!(t.state(), ServerNonInviteState::Proceeding);
        assert_eq!(t.on_request(), Effects::transmit());
        assert_eq!(
            t.on_tu_response(ms(20), &TimerConfig::default(), 200),
            Ok(Effects::transmit())
        );
        assert_eq!(t.state(), ServerNonInviteState::Completed);
        assert_eq!(t.on_request(), Effects::transmit());
        assert_eq!(
            t.on_tu_response(ms(30), &TimerConfig::default(), 200),
            Err(InvalidState)
        );
        assert_eq!(t.next_deadline(), Some(ms(32_020)));
        assert_eq!(
            t.on_timeout(ms(32_019), &TimerConfig::default()),
            Effects::NONE
        );
        assert_eq!(
            t.on_timeout(ms(32_020), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn reliable_final_terminates_at_once() {
        let (mut t, _) = ServerNonInviteTransaction::start(true, TimerConfig::default());
        let fx = t
            .on_tu_response(ms(0), &TimerConfig::default(), 404)
            .unwrap();
        assert!(fx.transmit && fx.terminated);
    }

    #[test]
    fn transport_error() {
        let (mut t, _) = ServerNonInviteTransaction::start(false, TimerConfig::default());
        assert!(t.on_transport_error().terminated);
        assert_eq!(t.on_transport_error(), Effects::NONE);
    }
}
