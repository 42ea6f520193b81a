//! The JSON form of a schedule for the admin API, and its validation.
//!
//! ```json
//! {
//!   "weekly": { "mon": [{ "from": "08:00", "to": "15:30" }], "sat": [] },
//!   "exceptions": [
//!     { "date": "--12-23", "hours": [{ "from": "08:00", "to": "14:00" }] },
//!     { "date": "2026-06-19" }
//!   ],
//!   "closed_on_public_holidays": true
//! }
//! ```
//!
//! Times are strict `HH:MM` (`24:00` only as an end). Dates are `YYYY-MM-DD`, or `--MM-DD` for every year. A
//! missing weekday, or an exception without `hours`, is closed all day. Unknown fields are refused so that a
//! typo such as `"tues"` does not silently close a day.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::{
    check_count, format_minute, weekday_key, ExceptionDate, Interval, MonthDay, Schedule,
    MAX_EXCEPTIONS,
};
use crate::RoutingError;

/// JSON keys of the weekdays, Monday first.
pub(super) const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// A schedule as the admin API sends and receives it; [`Schedule`] (de)serializes through this, validating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    #[serde(default)]
    pub weekly: WeeklySpec,
    #[serde(default)]
    pub exceptions: Vec<ExceptionSpec>,
    #[serde(default = "closes_on_holidays_by_default")]
    pub closed_on_public_holidays: bool,
}

fn closes_on_holidays_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySpec {
    #[serde(default)]
    pub mon: Vec<IntervalSpec>,
    #[serde(default)]
    pub tue: Vec<IntervalSpec>,
    #[serde(default)]
    pub wed: Vec<IntervalSpec>,
    #[serde(default)]
    pub thu: Vec<IntervalSpec>,
    #[serde(default)]
    pub fri: Vec<IntervalSpec>,
    #[serde(default)]
    pub sat: Vec<IntervalSpec>,
    #[serde(default)]
    pub sun: Vec<IntervalSpec>,
}

impl WeeklySpec {
    fn days(&self) -> [&Vec<IntervalSpec>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }

    fn days_mut(&mut self) -> [&mut Vec<IntervalSpec>; 7] {
        [
            &mut self.mon,
            &mut self.tue,
            &mut self.wed,
            &mut self.thu,
            &mut self.fri,
            &mut self.sat,
            &mut self.sun,
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM`; at or before `from` means the next day, `24:00` is midnight at the end of the day.
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    /// `YYYY-MM-DD`, or `--MM-DD` for every year.
    pub date: String,
    /// The day's hours instead of the weekly ones; empty or missing means closed all day.
    #[serde(default)]
    pub hours: Vec<IntervalSpec>,
}

impl TryFrom<ScheduleSpec> for Schedule {
    type Error = RoutingError;

    fn try_from(spec: ScheduleSpec) -> Result<Self, Self::Error> {
        let mut schedule = Schedule::new();
        schedule.set_closed_on_holidays(spec.closed_on_public_holidays);
        for (day, intervals) in WEEKDAYS.into_iter().zip(spec.weekly.days()) {
            // Counted before parsing so that a flood of intervals is refused without the work.
            check_count(&weekday_key(day), intervals)?;
            schedule.set_weekly(day, parse_intervals(intervals)?)?;
        }
        if spec.exceptions.len() > MAX_EXCEPTIONS {
            return Err(RoutingError::TooManyExceptions {
                count: spec.exceptions.len(),
                max: MAX_EXCEPTIONS,
            });
        }
        for exception in &spec.exceptions {
            let date = parse_exception_date(&exception.date)?;
            check_count(&exception.date, &exception.hours)?;
            if schedule.exceptions.contains_key(&date) {
                return Err(RoutingError::DuplicateException {
                    date: format_exception_date(date),
                });
            }
            schedule.set_exception(date, parse_intervals(&exception.hours)?)?;
        }
        Ok(schedule)
    }
}

impl From<&Schedule> for ScheduleSpec {
    fn from(schedule: &Schedule) -> Self {
        let mut weekly = WeeklySpec::default();
        for (day, target) in WEEKDAYS.into_iter().zip(weekly.days_mut()) {
            *target = format_intervals(schedule.weekly(day));
        }
        let exceptions = schedule
            .exceptions()
            .map(|(date, hours)| ExceptionSpec {
                date: format_exception_date(date),
                hours: format_intervals(hours),
            })
            .collect();
        Self {
            weekly,
            exceptions,
            closed_on_public_holidays: schedule.closed_on_holidays(),
        }
    }
}

impl From<Schedule> for ScheduleSpec {
    fn from(schedule: Schedule) -> Self {
        Self::from(&schedule)
    }
}

fn parse_intervals(specs: &[IntervalSpec]) -> Result<Vec<Interval>, RoutingError> {
    specs
        .iter()
        .map(|spec| Interval::parse(&spec.from, &spec.to))
        .collect()
}

fn format_intervals(intervals: &[Interval]) -> Vec<IntervalSpec> {
    intervals
        .iter()
        .map(|interval| IntervalSpec {
            from: format_minute(interval.from_minute()),
            to: format_minute(interval.to_minute()),
        })
        .collect()
}

/// `YYYY-MM-DD` (years 0001–9999) or `--MM-DD`.
pub(super) fn parse_exception_date(text: &str) -> Result<ExceptionDate, RoutingError> {
    let invalid = || RoutingError::InvalidDate {
        value: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<u32, RoutingError> {
        let digits = bytes.get(range).ok_or_else(invalid)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        Ok(digits
            .iter()
            .fold(0, |value, digit| value * 10 + u32::from(digit - b'0')))
    };
    match bytes {
        [b'-', b'-', _, _, b'-', _, _] => MonthDay::new(number(2..4)?, number(5..7)?)
            .map(ExceptionDate::Annually)
            .map_err(|_| invalid()),
        [_, _, _, _, b'-', _, _, b'-', _, _] => {
            let year = i32::try_from(number(0..4)?).map_err(|_| invalid())?;
            let date =
                NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?).ok_or_else(invalid)?;
            check_exception_date(ExceptionDate::On(date)).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

/// Dated exceptions are kept to years 1–9999 so that every schedule has a JSON form that reads back.
pub(super) fn check_exception_date(date: ExceptionDate) -> Result<ExceptionDate, RoutingError> {
    match date {
        ExceptionDate::On(day) if !(1..=9999).contains(&day.year()) => {
            Err(RoutingError::InvalidDate {
                value: day.to_string(),
            })
        }
        _ => Ok(date),
    }
}

pub(super) fn format_exception_date(date: ExceptionDate) -> String {
    match date {
        ExceptionDate::On(day) => format!("{:04}-{:02}-{:02}", day.year(), day.month(), day.day()),
        ExceptionDate::Annually(month_day) => {
            format!("--{:02}-{:02}", month_day.month(), month_day.day())
        }
    }
}
