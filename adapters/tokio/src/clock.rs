//! The clock, read here and handed to the core as [`Instant`]s (the core never reads one).
//! It runs on tokio's clock, so a test that pauses tokio's time drives the core too.

use std::time::Duration;

use sipwire_core::time::Instant;

/// Microseconds since the clock was made, as the core's [`Instant`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub(crate) fn new() -> Clock {
        Clock {
            origin: tokio::time::Instant::now(),
        }
    }

    /// The time now.
    pub(crate) fn now(&self) -> Instant {
        let micros = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        Instant::from_micros(micros)
    }

    /// The tokio instant of a core instant, to sleep until.
    pub(crate) fn at(&self, at: Instant) -> tokio::time::Instant {
        self.origin + Duration::from_micros(at.as_micros())
    }
}
