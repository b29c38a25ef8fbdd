//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use super::effects::{due, earliest, Effects};
use super::timers::TimerConfig;
use crate::time::{Duration, Instant};

/// States of Figure 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent; Timer E retransmits (doubling up to T2) on unreliable transports.
    Trying,
    /// A provisional arrived; Timer E retransmits every T2.
    Proceeding,
    /// A final response arrived; Timer K absorbs retransmissions.
    Completed,
    /// Done.
    Terminated,
}

/// A non-INVITE client transaction's state and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientNonInviteTransaction {
    state: ClientNonInviteState,
    reliable: bool,
    e_interval: Duration,
    timer_e: Option<Instant>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
}

impl ClientNonInviteTransaction {
    /// Starts the transaction: the request is to be sent now (§17.1.2.2).
    pub fn start(now: Instant, reliable: bool, timers: TimerConfig) -> (Self, Effects) {
        let t = ClientNonInviteTransaction {
            state: ClientNonInviteState::Trying,
            reliable,
            e_interval: timers.t1,
            timer_e: (!reliable).then(|| now + timers.t1),
            timer_f: Some(now + timers.t1_x64()),
            timer_k: None,
        };
        (t, Effects::transmit())
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// A response with this status code arrived.
    ///
    /// `timers`: the endpoint's timer values, as for `on_timeout`.
    pub fn on_response(&mut self, now: Instant, timers: &TimerConfig, code: u16) -> Effects {
        use ClientNonInviteState::*;
        match (self.state, code) {
            (Trying | Proceeding, 100..=199) => {
                self.state = Proceeding;
                Effects::deliver()
            }
            (Trying | Proceeding, 200..=699) => {
                self.timer_e = None;
                self.timer_f = None;
                let k = timers.t4_or_zero(self.reliable);
                let mut fx = Effects::deliver();
                if k.is_zero() {
                    self.state = Terminated;
                    fx.terminated = true;
                } else {
                    self.state = Completed;
                    self.timer_k = Some(now + k);
                }
                fx
            }
            // Completed absorbs retransmitted responses.
            _ => Effects::NONE,
        }
    }

    /// Time has come to `now`.
    ///
    /// `timers` are the values the transaction was started with: the endpoint keeps one
    /// copy for all its transactions, not one in each (RAM on a small device).
    pub fn on_timeout(&mut self, now: Instant, timers: &TimerConfig) -> Effects {
        use ClientNonInviteState::*;
        let mut fx = Effects::NONE;
        match self.state {
            Trying | Proceeding => {
                if due(self.timer_f, now) {
                    self.state = Terminated;
                    self.timer_e = None;
                    self.timer_f = None;
                    fx.timed_out = true;
                    fx.terminated = true;
                } else if let Some(e) = self.timer_e.filter(|&e| e <= now) {
                    fx.transmit = true;
                    // Trying: double up to T2; Proceeding: every T2 (§17.1.2.2).
                    self.e_interval = if self.state == Trying {
                        self.e_interval
                            .saturating_add(self.e_interval)
                            .min(timers.t2)
                    } else {
                        timers.t2
                    };
                    self.timer_e = Some(e + self.e_interval);
                }
            }
            Completed if due(self.timer_k, now) => {
                self.state = Terminated;
                self.timer_k = None;
                fx.terminated = true;
            }
            _ => {}
        }
        fx
    }

    /// The transport could not send the request (§17.1.4).
    pub fn on_transport_error(&mut self) -> Effects {
        if self.state == ClientNonInviteState::Terminated {
            return Effects::NONE;
        }
        self.state = ClientNonInviteState::Terminated;
        Effects {
            transport_error: true,
            terminated: true,
            ..Effects::NONE
        }
    }

    /// When [`on_timeout`](Self::on_timeout) should next be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        earliest([self.timer_e, self.timer_f, self.timer_k])
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

    fn retransmits(
        t: &mut ClientNonInviteTransaction,
        until: u64,
    ) -> (Vec<u64>, Option<(u64, Effects)>) {
        let mut at = Vec::new();
        let mut end = None;
        while let Some(d) = t.next_deadline().filter(|&d| d <= ms(until)) {
            let fx = t.on_timeout(d, &TimerConfig::default());
            if fx.transmit {
                at.push(d.as_millis());
            }
            if fx.terminated {
                end = Some((d.as_millis(), fx));
            }
        }
        (at, end)
    }

    #[test]
    fn trying_doubles_to_t2_then_times_out() {
        let (mut t, fx) = ClientNonInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert!(fx.transmit);
        let (at, end) = retransmits(&mut t, 100_000);
        // 0.5, 1.5, 3.5, 7.5, then every T2 = 4 s: 11.5 ... 31.5; Timer F at 32 s.
        assert_eq!(
            at,
            [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]
        );
        let (when, fx) = end.unwrap();
        assert_eq!(when, 32_000);
        assert!(fx.timed_out);
    }

    #[test]
    fn proceeding_retransmits_every_t2() {
        let (mut t, _) = ClientNonInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert!(t.on_timeout(ms(500), &TimerConfig::default()).transmit);
        assert_eq!(
            t.on_response(ms(600), &TimerConfig::default(), 100),
            Effects::deliver()
        );
        assert_eq!(t.state(), ClientNonInviteState::Proceeding);
        // Timer E was due at 1.5 s; from then on it is reset to T2 each time.
        let (at, end) = retransmits(&mut t, 100_000);
        assert_eq!(at, [1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]);
        assert_eq!(end.unwrap().0, 32_000);
    }

    #[test]
    fn final_then_timer_k() {
        let (mut t, _) = ClientNonInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(
            t.on_response(ms(100), &TimerConfig::default(), 200),
            Effects::deliver()
        );
        assert_eq!(t.state(), ClientNonInviteState::Completed);
        assert_eq!(
            t.on_response(ms(200), &TimerConfig::default(), 200),
            Effects::NONE
        );
        assert_eq!(t.next_deadline(), Some(ms(5_100)));
        assert_eq!(
            t.on_timeout(ms(5_100), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn proceeding_to_completed() {
        let (mut t, _) = ClientNonInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(
            t.on_response(ms(10), &TimerConfig::default(), 100),
            Effects::deliver()
        );
        assert_eq!(
            t.on_response(ms(20), &TimerConfig::default(), 180),
            Effects::deliver()
        );
        assert_eq!(
            t.on_response(ms(30), &TimerConfig::default(), 404),
            Effects::deliver()
        );
        assert_eq!(t.state(), ClientNonInviteState::Completed);
        assert_eq!(t.next_deadline(), Some(ms(5_030)));
        assert_eq!(
            t.on_timeout(ms(1_000), &TimerConfig::default()),
            Effects::NONE,
            "no Timer E once Completed"
        );
    }

    #[test]
    fn reliable_final_terminates_at_once_and_no_timer_e() {
        let (mut t, _) = ClientNonInviteTransaction::start(ms(0), true, TimerConfig::default());
        assert_eq!(t.next_deadline(), Some(ms(32_000)));
        let fx = t.on_response(ms(100), &TimerConfig::default(), 404);
        assert!(fx.deliver && fx.terminated);
    }

    #[test]
    fn transport_error() {
        let (mut t, _) = ClientNonInviteTransaction::start(ms(0), true, TimerConfig::default());
        assert!(t.on_transport_error().transport_error);
        assert_eq!(t.state(), ClientNonInviteState::Terminated);
    }
}
