//! Time, owned in one place. The engine measures every deadline on a monotonic
//! clock, as nanoseconds since the engine started, so a change of the wall
//! clock neither shortens nor lengthens a hold. Wall-clock time is derived
//! only for reporting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// Nanoseconds since the engine started, on its monotonic clock.
pub(crate) type Nanos = u64;

/// Converts a duration to nanoseconds, failing with [`Error::Overflow`] when it
/// does not fit.
pub(crate) fn nanos(duration: Duration) -> Result<Nanos> {
    u64::try_from(duration.as_nanos()).map_err(|_| Error::Overflow)
}

/// Which clock an engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockKind {
    /// The operating system's monotonic clock.
    #[default]
    System,
    /// A clock that stands still until the caller advances it, for
    /// deterministic tests. Advancing it releases what fell due.
    Manual,
}

#[derive(Debug)]
pub(crate) struct Clock {
    origin: Instant,
    origin_wall: SystemTime,
    manual: Option<AtomicU64>,
}

impl Clock {
    pub(crate) fn new(kind: ClockKind) -> Clock {
        Clock {
            origin: Instant::now(),
            origin_wall: SystemTime::now(),
            manual: match kind {
                ClockKind::System => None,
                ClockKind::Manual => Some(AtomicU64::new(0)),
            },
        }
    }

    pub(crate) fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    pub(crate) fn now(&self) -> Nanos {
        match &self.manual {
            Some(now) => now.load(Ordering::Acquire),
            // An engine would have to run for 584 years to pass u64 nanoseconds.
            None => self.origin.elapsed().as_nanos() as Nanos,
        }
    }

    /// Moves the manual clock forward and returns the new time.
    pub(crate) fn advance(&self, by: Duration) -> Result<Nanos> {
        let now = self.manual.as_ref().ok_or(Error::ClockNotManual)?;
        let by = nanos(by)?;
        let mut current = now.load(Ordering::Acquire);
        loop {
            let next = current.checked_add(by).ok_or(Error::Overflow)?;
            match now.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(next),
                Err(seen) => current = seen,
            }
        }
    }

    /// The instant at which the system clock reaches `at`; `None` past the
    /// range of `Instant`.
    pub(crate) fn instant(&self, at: Nanos) -> Option<Instant> {
        self.origin.checked_add(Duration::from_nanos(at))
    }

    /// The wall-clock time of a moment on this clock, as the wall clock stood
    /// when the engine started.
    pub(crate) fn wall(&self, at: Nanos) -> SystemTime {
        self.origin_wall + Duration::from_nanos(at)
    }
}
