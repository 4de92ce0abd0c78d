//! `Serialize` for the record types (feature `serde`), to log them.

use serde::ser::{Serialize, Serializer};

use crate::{Clock, TimerEvent};

/// The clock's name (`"CLOCK_MONOTONIC"`).
impl Serialize for Clock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// `{"expired": n}` or `"clock_changed"`.
impl Serialize for TimerEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TimerEvent::Expired(n) => s.serialize_newtype_variant("TimerEvent", 0, "expired", n),
            TimerEvent::ClockChanged => s.serialize_unit_variant("TimerEvent", 1, "clock_changed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_json() {
        assert_eq!(
            serde_json::to_value(TimerEvent::Expired(3)).unwrap(),
            serde_json::json!({"expired": 3})
        );
        assert_eq!(
            serde_json::to_value(TimerEvent::ClockChanged).unwrap(),
            "clock_changed"
        );
        assert_eq!(
            serde_json::to_value(Clock::Boottime).unwrap(),
            "CLOCK_BOOTTIME"
        );
    }
}
