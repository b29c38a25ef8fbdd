//! Time as the core sees it: instants handed in by the caller, never read from a clock.

use core::ops::{Add, Sub};
pub use core::time::Duration;

/// A point in time, in microseconds from an epoch the caller chooses (boot, process start,
/// the simulator's zero). Only differences matter to the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Instant {
        Instant(micros)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant(millis.saturating_mul(1000))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Milliseconds since the epoch (rounded down).
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }

    /// The time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// `ms` milliseconds as a [`Duration`], in 32-bit arithmetic (`Duration::from_millis` takes
/// a `u64` and divides it, a library call on a 32-bit core).
pub(crate) const fn millis(ms: u32) -> Duration {
    Duration::new((ms / 1000) as u64, (ms % 1000) * 1_000_000)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the end of time rather than overflowing.
    ///
    /// In `u64` arithmetic (`Duration::as_micros` is a `u128`, costly on a 32-bit core) and
    /// out of line: it is called from every timer.
    #[inline(never)]
    fn add(self, d: Duration) -> Instant {
        let micros = d
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(d.subsec_micros()));
        Instant(self.0.saturating_add(micros))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_since(earlier)
    }
}

impl core::fmt::Display for Instant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:06}s", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

/// The earlier of two optional deadlines (`None` if neither is set). Out of line with
/// `small-code`: the timers of transactions, calls and the registration all fold with it.
#[cfg_attr(feature = "small-code", inline(never))]
pub(crate) fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Earliest of several optional deadlines. (`small-code`: the array is handed on as a
/// slice to one out-of-line fold, one copy for every length.)
#[inline]
pub(crate) fn earliest<const N: usize>(deadlines: [Option<Instant>; N]) -> Option<Instant> {
    earliest_of(&deadlines)
}

#[cfg_attr(feature = "small-code", inline(never))]
fn earliest_of(deadlines: &[Option<Instant>]) -> Option<Instant> {
    deadlines.iter().copied().fold(None, earlier)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn arithmetic() {
        let t = Instant::from_millis(1500);
        assert_eq!(t + Duration::from_millis(500), Instant::from_millis(2000));
        assert_eq!(Instant::from_millis(2000) - t, Duration::from_millis(500));
        assert_eq!(t - Instant::from_millis(2000), Duration::ZERO);
        assert_eq!(
            Instant::from_micros(u64::MAX) + Duration::MAX,
            Instant::from_micros(u64::MAX)
        );
        assert_eq!(t.to_string(), "1.500000s");
    }
}
