//! Directed links: their configuration, their seeded random draws, their scripted hooks.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sipwire_core::time::{Duration, Instant};

use crate::{DropReason, NodeId, Packet, PacketId, Transport};

/// How one direction of a link treats packets.
///
/// Probabilities are in `0.0..=1.0`; a value below 0 (or NaN) means never, above 1 always.
/// Loss, duplication and reordering apply to UDP only: TCP is reliable and in order, so on
/// TCP the link adds latency and jitter, and never lets a segment overtake an earlier one
/// in the same direction.
///
/// The default is a perfect link: no latency, no impairment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay of every packet.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for each packet (and for each copy).
    pub jitter: Duration,
    /// Probability a UDP packet is lost.
    pub loss: f64,
    /// Probability a UDP packet (not lost) is delivered twice; the copy draws its own jitter.
    pub duplicate: f64,
    /// Probability a UDP packet gets extra delay so that a later one overtakes it. The extra
    /// delay is `base + uniform(0..=base)` with `base = max(latency, 1 ms)`.
    pub reorder: f64,
}

impl LinkConfig {
    /// A perfect link with a fixed one-way `latency`.
    pub fn with_latency(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency,
            ..LinkConfig::default()
        }
    }
}

/// A packet on its way (or held) between two nodes.
#[derive(Debug)]
pub(crate) struct Flight {
    pub(crate) id: PacketId,
    pub(crate) from: NodeId,
    pub(crate) to: NodeId,
    pub(crate) packet: Packet,
    pub(crate) duplicate: bool,
}

/// What the link decided for one packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Never arrives.
    Drop(DropReason),
    /// Queued until release; `duplicate` asks for a second copy queued behind it.
    Hold { duplicate: bool },
    /// Arrives at `at`, and a copy at `copy_at` if the link duplicated it.
    Deliver {
        at: Instant,
        copy_at: Option<Instant>,
    },
}

/// The state of one directed link.
pub(crate) struct Link {
    /// `None` follows the simulator's default link.
    pub(crate) config: Option<LinkConfig>,
    rng: ChaCha8Rng,
    drop_next: usize,
    held: Option<Vec<Flight>>,
    /// Arrival time of the last TCP segment, which the next may not precede.
    tcp_tail: Instant,
}

impl Link {
    /// A link from `from` to `to` in a simulation seeded with `seed`.
    pub(crate) fn new(seed: u64, from: NodeId, to: NodeId) -> Link {
        Link {
            config: None,
            rng: ChaCha8Rng::from_seed(link_seed(seed, from.0 as u64, to.0 as u64)),
            drop_next: 0,
            held: None,
            tcp_tail: Instant::ZERO,
        }
    }

    /// Drop the next `n` packets (on top of any still pending).
    pub(crate) fn drop_next(&mut self, n: usize) {
        self.drop_next = self.drop_next.saturating_add(n);
    }

    /// Start queueing packets instead of delivering them.
    pub(crate) fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    /// Queue a packet the link's [`Fate::Hold`] applies to.
    pub(crate) fn push_held(&mut self, flight: Flight) {
        self.held.get_or_insert_with(Vec::new).push(flight);
    }

    /// Stop holding; returns the held packets in order with the time they all arrive.
    pub(crate) fn release(&mut self, default: &LinkConfig, now: Instant) -> (Instant, Vec<Flight>) {
        let at = now + self.config.unwrap_or(*default).latency;
        let held = self.held.take().unwrap_or_default();
        if held.iter().any(|f| f.packet.transport == Transport::Tcp) {
            self.tcp_tail = self.tcp_tail.max(at);
        }
        (at, held)
    }

    /// Decide what happens to a packet sent at `now`.
    ///
    /// Every packet draws exactly six numbers, in this order, whatever its transport and
    /// whatever the hooks say: loss, duplicate, reorder, jitter, the copy's jitter, the
    /// reorder delay. So a hook or a TCP segment never shifts the draws of later packets.
    pub(crate) fn fate(
        &mut self,
        default: &LinkConfig,
        now: Instant,
        transport: Transport,
    ) -> Fate {
        let cfg = self.config.unwrap_or(*default);
        let mut draws = [0u64; 6];
        for d in &mut draws {
            *d = self.rng.next_u64();
        }
        let [loss, dup, reorder, jitter, copy_jitter, extra] = draws;

        if self.drop_next > 0 {
            self.drop_next -= 1;
            return Fate::Drop(DropReason::Hook);
        }
        let udp = transport == Transport::Udp;
        if udp && chance(loss, cfg.loss) {
            return Fate::Drop(DropReason::Loss);
        }
        let duplicate = udp && chance(dup, cfg.duplicate);
        if self.held.is_some() {
            return Fate::Hold { duplicate };
        }

        let latency = micros(cfg.latency);
        let max_jitter = micros(cfg.jitter);
        let mut delay = latency.saturating_add(uniform(jitter, max_jitter));
        if udp && chance(reorder, cfg.reorder) {
            let base = latency.max(1_000);
            delay = delay
                .saturating_add(base)
                .saturating_add(uniform(extra, base));
        }
        let mut at = now + Duration::from_micros(delay);
        if !udp {
            at = at.max(self.tcp_tail);
            self.tcp_tail = at;
        }
        let copy_at = duplicate.then(|| {
            now + Duration::from_micros(latency.saturating_add(uniform(copy_jitter, max_jitter)))
        });
        Fate::Deliver { at, copy_at }
    }
}

/// A duration in whole microseconds, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// True with probability `p`, from one 64-bit draw (its top 53 bits as a fraction).
fn chance(draw: u64, p: f64) -> bool {
    let unit = (draw >> 11) as f64 / (1u64 << 53) as f64;
    unit < p
}

/// A number in `0..=max` from one 64-bit draw (multiply-shift, no modulo).
fn uniform(draw: u64, max: u64) -> u64 {
    let span = u128::from(max) + 1;
    // The product is below 2^64 * span, so the shifted value is below span <= 2^64.
    ((u128::from(draw) * span) >> 64) as u64
}

/// One step of SplitMix64, the fixed mixing function of the link seeds.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The ChaCha8 key of the directed link `from -> to`: the simulator seed and the two node
/// indices mixed through SplitMix64, then expanded to 32 bytes by four more SplitMix64 steps.
/// It depends on nothing else, so adding a link or a node never changes another link's draws.
pub(crate) fn link_seed(seed: u64, from: u64, to: u64) -> [u8; 32] {
    let mut state = seed;
    state = splitmix64(&mut state) ^ from;
    state = splitmix64(&mut state) ^ to.rotate_left(32);
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_exact_at_the_edges() {
        assert!(!chance(0, 0.0));
        assert!(chance(u64::MAX, 1.0));
        assert!(!chance(0, f64::NAN));
        assert_eq!(uniform(u64::MAX, 0), 0);
        assert_eq!(uniform(u64::MAX, 10), 10);
        assert_eq!(uniform(0, u64::MAX), 0);
        assert_eq!(uniform(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn link_seeds_differ_by_direction_and_seed() {
        let ab = link_seed(7, 0, 1);
        assert_ne!(ab, link_seed(7, 1, 0));
        assert_ne!(ab, link_seed(8, 0, 1));
        assert_eq!(ab, link_seed(7, 0, 1));
    }

    #[test]
    fn the_draw_stream_is_pinned() {
        // ChaCha8 keyed by link_seed: if this changes, every recorded scenario changes.
        let mut rng = ChaCha8Rng::from_seed(link_seed(1, 0, 1));
        let first = [rng.next_u64(), rng.next_u64()];
        assert_eq!(first, [0xa0b2_b3e1_f2ab_2fd4, 0x88c3_025f_8baa_e96c]);
    }
}
