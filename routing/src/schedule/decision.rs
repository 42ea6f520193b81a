//! What happens to a call to a scheduled number right now: the schedule, unless a receptionist has overridden it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{HoursSource, Schedule};
use crate::RoutingError;

/// An emergency override that a receptionist switches on (and off) from the console, e.g. during a power cut
/// or when the whole office is at a funeral. While one is active it beats the schedule, holidays and exceptions.
///
/// JSON: `{"closed_with_message": "Sentralbordet er stengt i dag …"}` or `{"route_to": "queue:7"}`. Both strings
/// must be non-empty; deserializing refuses empty ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "OverrideWire")]
pub enum Override {
    /// Closed; the text of the prompt to play (spoken by text-to-speech or naming a recording).
    ClosedWithMessage(String),
    /// Send every call to this target (a queue, hunt group or number), opaque to routing.
    RouteTo(String),
}

impl Override {
    /// Checks what deserializing checks, for overrides built in code.
    pub fn validate(&self) -> Result<(), RoutingError> {
        match self {
            Self::ClosedWithMessage(prompt) if prompt.trim().is_empty() => {
                Err(RoutingError::EmptyOverride { field: "message" })
            }
            Self::RouteTo(target) if target.trim().is_empty() => {
                Err(RoutingError::EmptyOverride { field: "target" })
            }
            _ => Ok(()),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum OverrideWire {
    ClosedWithMessage(String),
    RouteTo(String),
}

impl TryFrom<OverrideWire> for Override {
    type Error = RoutingError;

    fn try_from(wire: OverrideWire) -> Result<Self, Self::Error> {
        let candidate = match wire {
            OverrideWire::ClosedWithMessage(prompt) => Self::ClosedWithMessage(prompt),
            OverrideWire::RouteTo(target) => Self::RouteTo(target),
        };
        candidate.validate()?;
        Ok(candidate)
    }
}

/// The effective state of a scheduled number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Decision {
    Open,
    Closed {
        reason: ClosedReason,
    },
    /// An override sends calls elsewhere regardless of the hours.
    Redirect {
        target: String,
    },
}

/// Why a number is closed, so that call control can pick the prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedReason {
    /// Today is this public holiday (Norwegian name) and the schedule closes on holidays.
    Holiday(&'static str),
    /// Outside today's weekly hours.
    OutsideHours,
    /// Today's hours come from a dated or annual exception (closed all day, or outside its special hours).
    Exception,
    /// A receptionist's override; the prompt to play.
    Override(String),
}

/// The effective state at `at`. The caller passes the override that is active now, so switching one on or off
/// takes effect on the very next call.
pub fn decide(schedule: &Schedule, active: Option<&Override>, at: DateTime<Utc>) -> Decision {
    match active {
        Some(Override::ClosedWithMessage(prompt)) => Decision::Closed {
            reason: ClosedReason::Override(prompt.clone()),
        },
        Some(Override::RouteTo(target)) => Decision::Redirect {
            target: target.clone(),
        },
        None if schedule.is_open(at) => Decision::Open,
        None => {
            // The reason names the rule governing the caller's local date, even in the small hours after a
            // night interval of the day before: that is what a citizen calling today needs to hear.
            let reason = match super::local_date(at).map(|today| schedule.hours_on(today).source) {
                Some(HoursSource::Exception(_)) => ClosedReason::Exception,
                Some(HoursSource::Holiday(name)) => ClosedReason::Holiday(name),
                Some(HoursSource::Weekly) | None => ClosedReason::OutsideHours,
            };
            Decision::Closed { reason }
        }
    }
}
