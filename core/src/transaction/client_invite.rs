//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, as amended by RFC 6026 §8.4:
//! a 2xx moves it to Accepted, where further 2xx pass to the TU, until Timer M).

use super::effects::{due, earliest, Effects};
use super::timers::TimerConfig;
use crate::time::{Duration, Instant};

/// States of Figure 5 plus RFC 6026's Accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, no response yet; Timer A retransmits on unreliable transports.
    Calling,
    /// A provisional response arrived; no more retransmissions.
    Proceeding,
    /// A 300–699 arrived and was ACKed; Timer D absorbs retransmissions.
    Completed,
    /// A 2xx arrived (RFC 6026); later 2xx go to the TU until Timer M.
    Accepted,
    /// Done.
    Terminated,
}

/// An INVITE client transaction's state and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientInviteTransaction {
    state: ClientInviteState,
    reliable: bool,
    a_interval: Duration,
    timer_a: Option<Instant>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
}

impl ClientInviteTransaction {
    /// Starts the transaction: the INVITE is to be sent now (§17.1.1.2).
    pub fn start(now: Instant, reliable: bool, timers: TimerConfig) -> (Self, Effects) {
        let t = ClientInviteTransaction {
            state: ClientInviteState::Calling,
            reliable,
            a_interval: timers.t1,
            timer_a: (!reliable).then(|| now + timers.t1),
            timer_b: Some(now + timers.t1_x64()),
            timer_d: None,
            timer_m: None,
        };
        (t, Effects::transmit())
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// A response with this status code arrived for the transaction.
    ///
    /// `timers`: the endpoint's timer values, as for `on_timeout`.
    pub fn on_response(&mut self, now: Instant, timers: &TimerConfig, code: u16) -> Effects {
        use ClientInviteState::*;
        match (self.state, code) {
            (Calling | Proceeding, 100..=199) => {
                // §17.1.1.2: no retransmissions in Proceeding; Timer B only fires in Calling.
                self.state = Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                Effects::deliver()
            }
            (Calling | Proceeding, 200..=299) => {
                // RFC 6026 §8.4: Accepted, Timer M = 64·T1.
                self.state = Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + timers.t1_x64());
                Effects::deliver()
            }
            (Calling | Proceeding, 300..=699) => {
                // §17.1.1.2: ACK, pass up, Timer D.
                self.timer_a = None;
                self.timer_b = None;
                let d = timers.d(self.reliable);
                let mut fx = Effects {
                    send_ack: true,
                    deliver: true,
                    ..Effects::NONE
                };
                if d.is_zero() {
                    self.state = Terminated;
                    fx.terminated = true;
                } else {
                    self.state = Completed;
                    self.timer_d = Some(now + d);
                }
                fx
            }
            // A retransmitted final response is ACKed again, not passed up.
            (Completed, 300..=699) => Effects {
                send_ack: true,
                ..Effects::NONE
            },
            // RFC 6026: every 2xx in Accepted goes to the TU, which ACKs it.
            (Accepted, 200..=299) => Effects::deliver(),
            _ => Effects::NONE,
        }
    }

    /// Time has come to `now`: fires every timer that is due.
    ///
    /// `timers` are the values the transaction was started with: the endpoint keeps one
    /// copy for all its transactions, not one in each (RAM on a small device).
    pub fn on_timeout(&mut self, now: Instant, _timers: &TimerConfig) -> Effects {
        use ClientInviteState::*;
        let mut fx = Effects::NONE;
        match self.state {
            Calling => {
                if due(self.timer_b, now) {
                    // §17.1.1.2: Timer B → timeout.
                    self.state = Terminated;
                    self.timer_a = None;
                    self.timer_b = None;
                    fx.timed_out = true;
                    fx.terminated = true;
                } else if let Some(a) = self.timer_a.filter(|&a| a <= now) {
                    // Timer A: retransmit and double the interval (no T2 cap for INVITE).
                    fx.transmit = true;
                    self.a_interval = self.a_interval.saturating_add(self.a_interval);
                    self.timer_a = Some(a + self.a_interval);
                }
            }
            Completed if due(self.timer_d, now) => {
                self.state = Terminated;
                self.timer_d = None;
                fx.terminated = true;
            }
            Accepted if due(self.timer_m, now) => {
                self.state = Terminated;
                self.timer_m = None;
                fx.terminated = true;
            }
            _ => {}
        }
        fx
    }

    /// The transport could not send the request (§17.1.4).
    pub fn on_transport_error(&mut self) -> Effects {
        if self.state == ClientInviteState::Terminated {
            return Effects::NONE;
        }
        self.state = ClientInviteState::Terminated;
        Effects {
            transport_error: true,
            terminated: true,
            ..Effects::NONE
        }
    }

    /// When [`on_timeout`](Self::on_timeout) should next be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        earliest([self.timer_a, self.timer_b, self.timer_d, self.timer_m])
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

    /// Drives timers only, recording when each effect happened.
    fn run_timers(t: &mut ClientInviteTransaction, until: Instant) -> Vec<(u64, Effects)> {
        let mut out = Vec::new();
        while let Some(d) = t.next_deadline().filter(|&d| d <= until) {
            let fx = t.on_timeout(d, &TimerConfig::default());
            out.push((d.as_millis(), fx));
        }
        out
    }

    #[test]
    fn calling_retransmits_then_times_out() {
        let (mut t, fx) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert!(fx.transmit);
        let log = run_timers(&mut t, ms(100_000));
        let retransmits: Vec<u64> = log
            .iter()
            .filter(|(_, f)| f.transmit)
            .map(|(at, _)| *at)
            .collect();
        // §17.1.1.2: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 64·T1 = 32 s.
        assert_eq!(retransmits, [500, 1500, 3500, 7500, 15500, 31500]);
        let (at, last) = log.last().copied().unwrap();
        assert_eq!(at, 32_000);
        assert!(last.timed_out && last.terminated);
        assert_eq!(t.state(), ClientInviteState::Terminated);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn reliable_has_no_timer_a() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), true, TimerConfig::default());
        let log = run_timers(&mut t, ms(100_000));
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].0, 32_000);
        assert!(log[0].1.timed_out);
    }

    #[test]
    fn provisional_stops_retransmissions_and_timer_b() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert!(t.on_timeout(ms(500), &TimerConfig::default()).transmit);
        assert_eq!(
            t.on_response(ms(600), &TimerConfig::default(), 180),
            Effects::deliver()
        );
        assert_eq!(t.state(), ClientInviteState::Proceeding);
        assert_eq!(t.next_deadline(), None);
        assert_eq!(
            t.on_response(ms(700), &TimerConfig::default(), 183),
            Effects::deliver()
        );
    }

    #[test]
    fn non_2xx_is_acked_and_absorbed_until_timer_d() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        let fx = t.on_response(ms(100), &TimerConfig::default(), 486);
        assert!(fx.send_ack && fx.deliver && !fx.terminated);
        assert_eq!(t.state(), ClientInviteState::Completed);
        let again = t.on_response(ms(200), &TimerConfig::default(), 486);
        assert!(again.send_ack && !again.deliver);
        assert_eq!(t.next_deadline(), Some(ms(32_100)));
        assert_eq!(
            t.on_timeout(ms(32_099), &TimerConfig::default()),
            Effects::NONE
        );
        assert_eq!(
            t.on_timeout(ms(32_100), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn non_2xx_on_reliable_terminates_at_once() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), true, TimerConfig::default());
        let _ = t.on_response(ms(10), &TimerConfig::default(), 100);
        let fx = t.on_response(ms(20), &TimerConfig::default(), 603);
        assert!(fx.send_ack && fx.deliver && fx.terminated);
    }

    #[test]
    fn accepted_passes_every_2xx_until_timer_m() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        assert_eq!(
            t.on_response(ms(100), &TimerConfig::default(), 200),
            Effects::deliver()
        );
        assert_eq!(t.state(), ClientInviteState::Accepted);
        assert_eq!(
            t.on_response(ms(600), &TimerConfig::default(), 200),
            Effects::deliver()
        );
        assert_eq!(
            t.on_response(ms(700), &TimerConfig::default(), 486),
            Effects::NONE
        );
        assert_eq!(t.next_deadline(), Some(ms(32_100)));
        assert_eq!(
            t.on_timeout(ms(32_100), &TimerConfig::default()),
            Effects::terminated()
        );
    }

    #[test]
    fn proceeding_to_completed_and_to_accepted() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        let _ = t.on_response(ms(10), &TimerConfig::default(), 180);
        let fx = t.on_response(ms(20), &TimerConfig::default(), 404);
        assert!(fx.send_ack && fx.deliver);
        assert_eq!(t.state(), ClientInviteState::Completed);
        assert_eq!(t.next_deadline(), Some(ms(32_020)));

        let (mut t, _) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        let _ = t.on_response(ms(10), &TimerConfig::default(), 183);
        assert_eq!(
            t.on_response(ms(20), &TimerConfig::default(), 200),
            Effects::deliver()
        );
        assert_eq!(t.state(), ClientInviteState::Accepted);
        // Provisionals after a 2xx are not passed up (Figure 5 as amended by RFC 6026).
        assert_eq!(
            t.on_response(ms(30), &TimerConfig::default(), 180),
            Effects::NONE
        );
    }

    #[test]
    fn transport_error_terminates() {
        let (mut t, _) = ClientInviteTransaction::start(ms(0), false, TimerConfig::default());
        let fx = t.on_transport_error();
        assert!(fx.transport_error && fx.terminated);
        assert_eq!(t.on_transport_error(), Effects::NONE);
        assert_eq!(
            t.on_response(ms(1), &TimerConfig::default(), 200),
            Effects::NONE
        );
    }
}
