//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as amended by RFC 6026 §8.5–8.7:
//! a 2xx moves it to Accepted, where the TU's 2xx retransmissions pass through and the ACK goes
//! to the TU, until Timer L).

use super::effects::{due, earliest, Effects, InvalidState};
use super::timers::TimerConfig;
use crate::time::{Duration, Instant};

/// States of Figure 7 plus RFC 6026's Accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerInviteState {
    /// The INVITE was passed to the TU; provisional responses may be sent.
    Proceeding,
    /// A 300–699 was sent; Timer G retransmits it until the ACK or Timer H.
    Completed,
    /// The ACK arrived; Timer I absorbs ACK retransmissions.
    Confirmed,
    /// A 2xx was sent (RFC 6026); Timer L.
    Accepted,
    /// Done.
    Terminated,
}

/// An INVITE server transaction's state and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerInviteTransaction {
    state: ServerInviteState,
    reliable: bool,
    /// Whether a response has been sent (a retransmitted INVITE then resends it).
    responded: bool,
    timer_trying: Option<Instant>,
    g_interval: Duration,
    timer_g: Option<Instant>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
}

impl ServerInviteTransaction {
    /// Starts the transaction for a new INVITE: pass it to the TU (§17.2.1), and arm the
    /// 200 ms timer after which the transaction sends 100 Trying itself.
    pub fn start(now: Instant, reliable: bool, timers: TimerConfig) -> (Self, Effects) {
        let t = ServerInviteTransaction {
            state: ServerInviteState::Proceeding,
            reliable,
            responded: false,
            timer_trying: Some(now + timers.trying_delay),
            g_interval: timers.t1,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
        };
        (t, Effects::deliver())
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// The INVITE arrived again (a retransmission, §17.2.1).
    pub fn on_request(&mut self) -> Effects {
        match self.state {
            // Resend the most recent provisional (or final, in Completed).
            ServerInviteState::Proceeding | ServerInviteState::Completed if self.responded => {
                Effects::transmit()
            }
            // RFC 6026 §8.5: absorbed in Accepted; also in Confirmed and Proceeding before
            // any response.
            _ => Effects::NONE,
        }
    }

    /// The transaction is about to send a 100 Trying of its own (after
    /// [`Effects::send_trying`]); it now counts as the most recent response.
    pub fn on_trying_sent(&mut self) {
        self.responded = true;
        self.timer_trying = None;
    }

    /// Whether the TU may send a response with this code now.
    pub fn can_respond(&self, code: u16) -> bool {
        matches!(
            (self.state, code),
            (ServerInviteState::Proceeding, 100..=699) | (ServerInviteState::Accepted, 200..=299)
        )
    }

    /// The TU sends a response with this status code through the transaction.
    ///
    /// `timers`: the endpoint's timer values, as for `on_timeout`.
    pub fn on_tu_response(
        &mut self,
        now: Instant,
        timers: &TimerConfig,
        code: u16,
    ) -> Result<Effects, InvalidState> {
        use ServerInviteState::*;
        match (self.state, code) {
            (Proceeding, 100..=199) => {
                self.responded = true;
                self.timer_trying = None;
                Ok(Effects::transmit())
            }
            (Proceeding, 200..=299) => {
                // RFC 6026 §8.5: Accepted, Timer L = 64·T1.
                self.state = Accepted;
                self.responded = true;
                self.timer_trying = None;
                self.timer_l = Some(now + timers.t1_x64());
                Ok(Effects::transmit())
            }
            (Proceeding, 300..=699) => {
                self.state = Completed;
                self.responded = true;
                self.timer_trying = None;
                self.timer_g = (!self.reliable).then(|| now + timers.t1);
                self.timer_h = Some(now + timers.t1_x64());
                Ok(Effects::transmit())
            }
            // RFC 6026 §8.6: the TU's retransmissions of the 2xx pass through.
            (Accepted, 200..=299) => Ok(Effects::transmit()),
            _ => Err(InvalidState),
        }
    }

    /// An ACK matching the transaction arrived.
    ///
    /// `timers`: the endpoint's timer values, as for `on_timeout`.
    pub fn on_ack(&mut self, now: Instant, timers: &TimerConfig) -> Effects {
        use ServerInviteState::*;
        match self.state {
            Completed => {
                // §17.2.1: Confirmed, Timer I (T4 unreliable, 0 reliable).
                self.timer_g = None;
                self.timer_h = None;
                let i = timers.t4_or_zero(self.reliable);
                if i.is_zero() {
                    self.state = Terminated;
                    Effects::terminated()
                } else {
                    self.state = Confirmed;
                    self.timer_i = Some(now + i);
                    Effects::NONE
                }
            }
            // RFC 6026 §8.7: an ACK for the 2xx goes to the TU.
            Accepted => Effects::deliver(),
            _ => Effects::NONE,
        }
    }

    /// Time has come to `now`.
    ///
    /// `timers` are the values the transaction was started with: the endpoint keeps one
    /// copy for all its transactions, not one in each (RAM on a small device).
    pub fn on_timeout(&mut self, now: Instant, timers: &TimerConfig) -> Effects {
        use ServerInviteState::*;
        let mut fx = Effects::NONE;
        match self.state {
            Proceeding if due(self.timer_trying, now) => {
                self.timer_trying = None;
                fx.send_trying = true;
            }
            Completed => {
                if due(self.timer_h, now) {
                    // §17.2.1: Timer H → no ACK came; tell the TU.
                    self.state = Terminated;
                    self.timer_g = None;
                    self.timer_h = None;
                    fx.timed_out = true;
                    fx.terminated = true;
                } else if let Some(g) = self.timer_g.filter(|&g| g <= now) {
                    fx.transmit = true;
                    self.g_interval = self
                        .g_interval
                        .saturating_add(self.g_interval)
                        .min(timers.t2);
                    self.timer_g = Some(g + self.g_interval);
                }
            }
            Confirmed if due(self.timer_i, now) => {
                self.state = Terminated;
                self.timer_i = None;
                fx.terminated = true;
            }
            Accepted if due(self.timer_l, now) => {
                self.state = Terminated;
                self.timer_l = None;
                fx.terminated = true;
            }
            _ => {}
        }
        fx
    }

    /// The transport could not send a response (§17.2.4).
    pub fn on_transport_error(&mut self) -> Effects {
        if self.state == ServerInviteState::Terminated {
            return Effects::NONE;
        }
        self.state = ServerInviteState::Terminated;
        Effects {
            transport_error: true,
            terminated: true,
            ..Effects::NONE
        }
    }

    /// When [`on_timeout`](Self::on_timeout) should next be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        earliest([
            self.timer_trying,
            self.timer_g,
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn sends_trying_after_200ms_when_tu_is_silent() {
        let (mut t, fx) = ServerInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(fx, Effects::deliver());
        // A retransmission before any response is absorbed.
        assert_eq!(t.on_request(), Effects::NONE);
        assert_eq!(t.next_deadline(), Some(ms(200)));
        assert!(t.on_timeout(ms(200), &TimerConfig::default()).send_trying);
        t.on_trying_sent();
        assert_eq!(t.on_request(), Effects::transmit());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn tu_provisional_cancels_the_trying_timer() {
        let (mut t, _) = ServerInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(
            t.on_tu_response(ms(50), &TimerConfig::default(), 180),
            Ok(Effects::transmit())
        );
        assert_eq!(t.next_deadline(), None);
        assert_eq!(t.on_request(), Effects::transmit());
    }

    #[test]
    fn non_2xx_retransmits_until_ack_then_confirmed_then_i() {
        let (mut t, _) = ServerInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(
            t.on_tu_response(ms(0), &TimerConfig::default(), 486),
            Ok(Effects::transmit())
        );
        assert_eq!(t.state(), ServerInviteState::Completed);
        let mut at = Vec::new();
        while let Some(d) = t.next_deadline().filter(|&d| d <= ms(10_000)) {
            if t.on_timeout(d, &TimerConfig::default()).transmit {
                at.push(d.as_millis());
            }
        }
        // Timer G: T1 doubling to T2.
        assert_eq!(at, [500, 1500, 3500, 7500]);
        assert_eq!(t.on_request(), Effects::transmit());
        assert_eq!(t.on_ack(ms(10_000), &TimerConfig::default()), Effects::NONE);
        assert_eq!(t.state(), ServerInviteState::Confirmed);
        assert_eq!(t.on_ack(ms(10_001), &TimerConfig::default()), Effects::NONE);
        assert_eq!(t.next_deadline(), Some(ms(15_000)));
        assert_eq!(
            t.on_timeout(ms(15_000), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn timer_h_without_ack() {
        let (mut t, _) = ServerInviteTransaction::start(ms(0), false, TimerConfig::default());
        let _ = t
            .on_tu_response(ms(0), &TimerConfig::default(), 500)
            .unwrap();
        let mut last = Effects::NONE;
        let mut when = 0;
        while let Some(d) = t.next_deadline() {
            last = t.on_timeout(d, &TimerConfig::default());
            when = d.as_millis();
        }
        assert_eq!(when, 32_000);
        assert!(last.timed_out && last.terminated);
    }

    #[test]
    fn reliable_ack_terminates_at_once_and_no_g() {
        let (mut t, _) = ServerInviteTransaction::start(ms(0), true, TimerConfig::default());
        let _ = t
            .on_tu_response(ms(0), &TimerConfig::default(), 404)
            .unwrap();
        assert_eq!(t.next_deadline(), Some(ms(32_000)));
        assert_eq!(
            t.on_ack(ms(5), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn accepted_passes_2xx_and_ack_until_l() {
        let (mut t, _) = ServerInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(
            t.on_tu_response(ms(10), &TimerConfig::default(), 200),
            Ok(Effects::transmit())
        );
        assert_eq!(t.state(), ServerInviteState::Accepted);
        assert_eq!(t.on_request(), Effects::NONE);
        assert_eq!(
            t.on_tu_response(ms(510), &TimerConfig::default(), 200),
            Ok(Effects::transmit())
        );
        assert_eq!(
            t.on_tu_response(ms(600), &TimerConfig::default(), 486),
            Err(InvalidState)
        );
        assert_eq!(
            t.on_ack(ms(700), &TimerConfig::default()),
            Effects::deliver()
        );
        assert_eq!(t.next_deadline(), Some(ms(32_010)));
        assert_eq!(
            t.on_timeout(ms(32_010), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn transport_error() {
        let (mut t, _) = ServerInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert!(t.on_transport_error().transport_error);
        assert_eq!(
            t.on_tu_response(ms(1), &TimerConfig::default(), 200),
            Err(InvalidState)
        );
    }
}
