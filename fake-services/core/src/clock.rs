//! Time for every service: the host's clock, or a virtual one that only moves when told to.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::watch;

/// The instant a deterministic run starts at: 2024-01-01T00:00:00Z.
pub const VIRTUAL_EPOCH: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);

/// `t` in UTC as `YYYY-MM-DD<sep>HH:MM:SS.<fraction>`, the fraction `digits` long (3: ms,
/// 6: µs): the shape several services print times in (BatchCompute `…T…Z` with 6, the Log
/// Service's SQL timestamps with a space and 3).
pub fn utc_text(t: OffsetDateTime, sep: char, digits: u32) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let digits = digits.min(9);
    let fraction = t.nanosecond() / 10u32.pow(9 - digits);
    format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}.{fraction:0width$}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        width = digits as usize
    )
}

/// A cheap, cloneable handle to the emulator's notion of "now".
#[derive(Clone, Debug)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
enum Inner {
    System,
    Virtual {
        now: Mutex<OffsetDateTime>,
        changed: watch::Sender<OffsetDateTime>,
    },
}

impl Clock {
    /// The host's wall clock.
    pub fn system() -> Self {
        Clock(Arc::new(Inner::System))
    }

    /// A virtual clock that starts at `start` and moves only by [`Clock::advance`].
    pub fn virtual_at(start: OffsetDateTime) -> Self {
        let (changed, _) = watch::channel(start);
        Clock(Arc::new(Inner::Virtual {
            now: Mutex::new(start),
            changed,
        }))
    }

    /// A virtual clock starting at [`VIRTUAL_EPOCH`].
    pub fn deterministic() -> Self {
        Self::virtual_at(VIRTUAL_EPOCH)
    }

    /// Whether this clock only moves when told to.
    pub fn is_virtual(&self) -> bool {
        matches!(*self.0, Inner::Virtual { .. })
    }

    /// The current instant, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        match &*self.0 {
            Inner::System => OffsetDateTime::now_utc(),
            Inner::Virtual { now, .. } => *now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_millis(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Moves a virtual clock forward and returns the new instant. A system clock cannot be moved:
    /// this returns `None` for it.
    pub fn advance(&self, by: Duration) -> Option<OffsetDateTime> {
        match &*self.0 {
            Inner::System => None,
            Inner::Virtual { now, changed } => {
                let mut guard = now.lock().unwrap_or_else(|e| e.into_inner());
                *guard += by;
                let new = *guard;
                drop(guard);
                changed.send_replace(new);
                Some(new)
            }
        }
    }

    /// Sets a virtual clock to `at` (also backwards, to start a test case over); `false` for
    /// the system clock.
    pub fn set(&self, at: OffsetDateTime) -> bool {
        match &*self.0 {
            Inner::System => false,
            Inner::Virtual { now, changed } => {
                *now.lock().unwrap_or_else(|e| e.into_inner()) = at;
                changed.send_replace(at);
                true
            }
        }
    }

    /// A receiver that sees every move of a virtual clock; `None` for the system clock.
    pub fn watch(&self) -> Option<watch::Receiver<OffsetDateTime>> {
        match &*self.0 {
            Inner::System => None,
            Inner::Virtual { changed, .. } => Some(changed.subscribe()),
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_has_the_fraction_asked_for() {
        let t = VIRTUAL_EPOCH + Duration::from_micros(1_234_567);
        assert_eq!(utc_text(t, 'T', 6), "2024-01-01T00:00:01.234567");
        assert_eq!(utc_text(t, ' ', 3), "2024-01-01 00:00:01.234");
    }

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let clock = Clock::deterministic();
        assert_eq!(clock.now(), VIRTUAL_EPOCH);
        let rx = clock.watch().unwrap();
        clock.advance(Duration::from_secs(90)).unwrap();
        assert_eq!(clock.now(), VIRTUAL_EPOCH + Duration::from_secs(90));
        assert!(rx.has_changed().unwrap());
        assert_eq!(clock.now_millis(), 1_704_067_290_000);
    }

    #[test]
    fn system_clock_cannot_be_advanced() {
        let clock = Clock::system();
        assert!(!clock.is_virtual());
        assert!(clock.advance(Duration::from_secs(1)).is_none());
        assert!(clock.watch().is_none());
    }
}
