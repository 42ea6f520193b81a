//! Opening hours: when the municipality's public numbers are answered.
//!
//! A [`Schedule`] holds weekly hours in Europe/Oslo wall-clock time, dated exceptions, and whether Norwegian
//! public holidays ([`holidays`]) close it. Everything here is pure: the current instant is always an
//! argument (UTC), so call control, the admin API and tests all see the same answer for the same instant.
//!
//! # Which hours govern a day
//!
//! For each local date the first of these that applies gives the day's intervals:
//! 1. an exception for that exact date, then an annual exception for its month and day (`--12-24`);
//! 2. a public holiday, when the schedule closes on holidays: no intervals;
//! 3. the weekly hours for its weekday.
//!
//! An interval belongs to the day it starts on. One that ends at or before its start (22:00–02:00) runs into
//! the next morning, and it does so even if the next day is a holiday or closed by an exception: the night
//! shift that began the evening before is not cut short.
//!
//! # Daylight saving time
//!
//! Every interval boundary happens at **the first instant at which the Oslo clock on that date shows the
//! boundary time or later**. This single rule decides both awkward cases, and is monotonic, so an interval
//! never turns inside out:
//! - The spring-forward gap (last Sunday of March, 02:00–03:00 does not exist): a boundary inside the gap
//!   happens at 03:00 CEST, when the clocks jump. An interval 02:00–03:00 on that day is therefore empty (that
//!   hour never comes), 02:30–04:00 opens at 03:00, and 01:00–02:30 closes at 03:00 CEST after one real hour.
//! - The fall-back overlap (last Sunday of October, 02:00–03:00 happens twice): a boundary in that hour happens
//!   the first time the clock shows it, in summer time. 01:00–02:30 closes at the first 02:30 and stays closed
//!   through the repeated half hour; 02:30–03:30 opens at the first 02:30 and stays open for two real hours.
//!
//! chrono-tz carries the tz database's transitions up to 2099; after that it keeps standard time (CET) all year.

mod decision;
mod holidays;
mod json;

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::RoutingError;

pub use decision::{decide, ClosedReason, Decision, Override};
pub use holidays::{easter_sunday, holidays, is_holiday};
pub use json::{ExceptionSpec, IntervalSpec, ScheduleSpec, WeeklySpec};

/// The time zone every schedule is written in.
pub const OSLO: Tz = chrono_tz::Europe::Oslo;

/// Most intervals one day may hold; bounds the work per call and catches runaway admin input.
pub const MAX_INTERVALS_PER_DAY: usize = 16;

/// Most date exceptions one schedule may hold.
pub const MAX_EXCEPTIONS: usize = 1000;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// How far [`Schedule::next_change`] looks past its start and past each dated exception: four years and a week,
/// so that every weekday, every holiday and even 29 February have come round.
pub const SEARCH_DAYS: u64 = 4 * 366 + 7;

/// Opening hours on one local day: from `from` to `to`, in minutes after local midnight.
///
/// `to` may be 1440 (`24:00`, the end of the day). A `to` at or before `from` means the interval runs past
/// midnight into the next day. `00:00` as an end is stored as `24:00`, which means the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    from: u16,
    to: u16,
}

impl Interval {
    /// An interval from `from_minute` (0–1439) to `to_minute` (0–1440) after local midnight.
    pub fn new(from_minute: u16, to_minute: u16) -> Result<Self, RoutingError> {
        if from_minute >= MINUTES_PER_DAY {
            return Err(RoutingError::InvalidTime {
                value: format!("minute {from_minute}"),
            });
        }
        if to_minute > MINUTES_PER_DAY {
            return Err(RoutingError::InvalidTime {
                value: format!("minute {to_minute}"),
            });
        }
        if from_minute == to_minute {
            // Refused rather than read as "24 hours": a typo here would silently open a line all night.
            return Err(RoutingError::EmptyInterval {
                from: format_minute(from_minute),
                to: format_minute(to_minute),
            });
        }
        let to = if to_minute == 0 {
            MINUTES_PER_DAY
        } else {
            to_minute
        };
        Ok(Self {
            from: from_minute,
            to,
        })
    }

    /// An interval from two `HH:MM` strings, e.g. `Interval::parse("08:00", "15:30")`.
    pub fn parse(from: &str, to: &str) -> Result<Self, RoutingError> {
        let from_minute = parse_hhmm(from)?;
        if from_minute == MINUTES_PER_DAY {
            return Err(RoutingError::InvalidTime {
                value: from.to_owned(),
            });
        }
        Self::new(from_minute, parse_hhmm(to)?)
    }

    /// Start, in minutes after local midnight.
    pub fn from_minute(&self) -> u16 {
        self.from
    }

    /// End, in minutes after local midnight (of the next day when [`crosses_midnight`](Self::crosses_midnight)).
    pub fn to_minute(&self) -> u16 {
        self.to
    }

    /// Whether the interval ends on the day after it starts (24:00 counts as the same day).
    pub fn crosses_midnight(&self) -> bool {
        self.to <= self.from
    }
}

/// `--MM-DD`: a month and day that recur every year (29 February only in leap years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    month: u8,
    day: u8,
}

impl MonthDay {
    /// A month (1–12) and a day that exists in that month in some year.
    pub fn new(month: u32, day: u32) -> Result<Self, RoutingError> {
        // 2000 is a leap year, so 29 February passes and 30 February does not.
        let valid = NaiveDate::from_ymd_opt(2000, month, day).is_some();
        match (valid, u8::try_from(month), u8::try_from(day)) {
            (true, Ok(month), Ok(day)) => Ok(Self { month, day }),
            _ => Err(RoutingError::InvalidDate {
                value: format!("--{month:02}-{day:02}"),
            }),
        }
    }

    pub fn month(&self) -> u32 {
        u32::from(self.month)
    }

    pub fn day(&self) -> u32 {
        u32::from(self.day)
    }
}

/// The date an exception applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExceptionDate {
    /// One specific date.
    On(NaiveDate),
    /// The same month and day every year; a specific date beats it.
    Annually(MonthDay),
}

/// Which rule gave a day its hours (see the module docs for the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursSource {
    Exception(ExceptionDate),
    Holiday(&'static str),
    Weekly,
}

/// The hours that govern one local date, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours<'a> {
    /// Intervals starting on this date; empty when closed all day.
    pub intervals: &'a [Interval],
    pub source: HoursSource,
}

/// Weekly opening hours with exceptions and public holidays, in Europe/Oslo time.
///
/// Its JSON form is [`ScheduleSpec`]; deserializing validates and fails with the [`RoutingError`]'s message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleSpec", into = "ScheduleSpec")]
pub struct Schedule {
    /// Monday first, as `Weekday::num_days_from_monday`.
    weekly: [Vec<Interval>; 7],
    exceptions: BTreeMap<ExceptionDate, Vec<Interval>>,
    closed_on_holidays: bool,
}

impl Default for Schedule {
    fn default() -> Self {
        Self::new()
    }
}

impl Schedule {
    /// Closed every day until hours are added; public holidays close it.
    pub fn new() -> Self {
        Self {
            weekly: Default::default(),
            exceptions: BTreeMap::new(),
            closed_on_holidays: true,
        }
    }

    /// The reference municipality: Monday–Friday 08:00–15:30, closed on public holidays, closed on 24 and 31
    /// December and open 08:00–14:00 on 23 December, every year.
    pub fn demo_municipality() -> Self {
        let office = [Interval {
            from: 8 * 60,
            to: 15 * 60 + 30,
        }];
        let short_day = vec![Interval {
            from: 8 * 60,
            to: 14 * 60,
        }];
        let mut schedule = Self::new();
        for day in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ] {
            schedule.weekly[day.num_days_from_monday() as usize] = office.to_vec();
        }
        let mut annual = |day, intervals| {
            schedule.exceptions.insert(
                ExceptionDate::Annually(MonthDay { month: 12, day }),
                intervals,
            );
        };
        annual(23, short_day);
        annual(24, Vec::new());
        annual(31, Vec::new());
        schedule
    }

    /// Replaces the weekly hours of `day`; an empty list closes that weekday.
    pub fn set_weekly(
        &mut self,
        day: Weekday,
        intervals: Vec<Interval>,
    ) -> Result<(), RoutingError> {
        check_count(&weekday_key(day), &intervals)?;
        self.weekly[day.num_days_from_monday() as usize] = intervals;
        Ok(())
    }

    /// Sets (or replaces) the hours for `date`; an empty list closes it all day. Dated exceptions must lie in
    /// years 1–9999.
    pub fn set_exception(
        &mut self,
        date: ExceptionDate,
        intervals: Vec<Interval>,
    ) -> Result<(), RoutingError> {
        json::check_exception_date(date)?;
        check_count(&json::format_exception_date(date), &intervals)?;
        if !self.exceptions.contains_key(&date) && self.exceptions.len() >= MAX_EXCEPTIONS {
            return Err(RoutingError::TooManyExceptions {
                count: self.exceptions.len() + 1,
                max: MAX_EXCEPTIONS,
            });
        }
        self.exceptions.insert(date, intervals);
        Ok(())
    }

    /// Removes the exception for `date`, returning its intervals if there was one.
    pub fn remove_exception(&mut self, date: ExceptionDate) -> Option<Vec<Interval>> {
        self.exceptions.remove(&date)
    }

    pub fn set_closed_on_holidays(&mut self, closed: bool) {
        self.closed_on_holidays = closed;
    }

    pub fn closed_on_holidays(&self) -> bool {
        self.closed_on_holidays
    }

    /// The weekly hours of `day`.
    pub fn weekly(&self, day: Weekday) -> &[Interval] {
        &self.weekly[day.num_days_from_monday() as usize]
    }

    /// All exceptions, dated ones first in date order, then annual ones.
    pub fn exceptions(&self) -> impl Iterator<Item = (ExceptionDate, &[Interval])> {
        self.exceptions
            .iter()
            .map(|(date, intervals)| (*date, intervals.as_slice()))
    }

    /// The hours that govern the local date `date`, and the rule they come from.
    pub fn hours_on(&self, date: NaiveDate) -> DayHours<'_> {
        let dated = ExceptionDate::On(date);
        let annual = u8::try_from(date.month())
            .ok()
            .zip(u8::try_from(date.day()).ok())
            .map(|(month, day)| ExceptionDate::Annually(MonthDay { month, day }));
        let exception = self
            .exceptions
            .get_key_value(&dated)
            .or_else(|| annual.and_then(|key| self.exceptions.get_key_value(&key)));
        if let Some((key, intervals)) = exception {
            return DayHours {
                intervals,
                source: HoursSource::Exception(*key),
            };
        }
        if self.closed_on_holidays {
            if let Some(name) = is_holiday(date) {
                return DayHours {
                    intervals: &[],
                    source: HoursSource::Holiday(name),
                };
            }
        }
        DayHours {
            intervals: self.weekly(date.weekday()),
            source: HoursSource::Weekly,
        }
    }

    /// Whether calls are answered at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let Some(today) = local_date(at) else {
            return false;
        };
        // Only yesterday's intervals can reach into today (none lasts 24 hours or more).
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .any(|day| covers(&self.spans(day), at))
    }

    /// The first instant after `at` at which [`is_open`](Self::is_open) gives the other answer.
    ///
    /// Looks up to [`SEARCH_DAYS`] past `at`, and as far past each later dated exception; `None` when nothing
    /// changes in that time (a schedule that is always closed, or open around the clock with holidays ignored).
    pub fn next_change(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let open_now = self.is_open(at);
        let today = local_date(at)?;
        let mut search_until = today.checked_add_days(Days::new(SEARCH_DAYS))?;
        let mut recent = RecentSpans::default();
        let mut pending: Vec<DateTime<Utc>> = Vec::new();
        let mut day = today.pred_opt()?;
        loop {
            if day > search_until {
                // The weekly, holiday and annual rules have had every chance to change the answer and did not, so
                // only a dated exception can; skip to just before the next one (its eve may run into it).
                let next_dated = self.exceptions.range(ExceptionDate::On(day)..).find_map(
                    |(key, _)| match key {
                        ExceptionDate::On(date) => Some(*date),
                        ExceptionDate::Annually(_) => None,
                    },
                )?;
                let resume = next_dated.checked_sub_days(Days::new(2))?.max(day);
                if resume > day {
                    pending.clear();
                }
                day = resume;
                search_until = next_dated.checked_add_days(Days::new(SEARCH_DAYS))?;
            }
            let spans = recent.get(self, day);
            pending.extend(spans.iter().flat_map(|&(start, end)| [start, end]));
            // Every boundary of a later day falls at or after that day's first instant, so the candidates before
            // the next day's first instant are complete and can be tried in order.
            let next_day = day.succ_opt()?;
            let settled_before = boundary(next_day, 0)?;
            pending.sort_unstable();
            let settled = pending.partition_point(|&instant| instant < settled_before);
            for &instant in &pending[..settled] {
                if instant > at && recent.is_open(self, instant) != open_now {
                    return Some(instant);
                }
            }
            pending.drain(..settled);
            day = next_day;
        }
    }

    /// The non-empty UTC spans of the intervals that start on local date `day`.
    fn spans(&self, day: NaiveDate) -> Vec<Span> {
        let next = day.succ_opt();
        let hours = self.hours_on(day);
        let span = |interval: &Interval| {
            let start = boundary(day, interval.from)?;
            let end = if interval.crosses_midnight() || interval.to == MINUTES_PER_DAY {
                boundary(next?, interval.to % MINUTES_PER_DAY)?
            } else {
                boundary(day, interval.to)?
            };
            // Empty only inside a spring-forward gap: both ends land on the jump.
            (start < end).then_some((start, end))
        };
        hours.intervals.iter().filter_map(span).collect()
    }
}

type Span = (DateTime<Utc>, DateTime<Utc>);

fn covers(spans: &[Span], instant: DateTime<Utc>) -> bool {
    spans
        .iter()
        .any(|&(start, end)| start <= instant && instant < end)
}

/// The spans of the last few days that [`Schedule::next_change`] walked through, so that testing each candidate
/// does not convert every interval of two days to UTC again.
#[derive(Default)]
struct RecentSpans {
    days: Vec<(NaiveDate, Vec<Span>)>,
}

impl RecentSpans {
    const KEEP: usize = 3;

    fn get(&mut self, schedule: &Schedule, day: NaiveDate) -> Vec<Span> {
        if let Some((_, spans)) = self.days.iter().find(|(known, _)| *known == day) {
            return spans.clone();
        }
        let spans = schedule.spans(day);
        if self.days.len() >= Self::KEEP {
            self.days.remove(0);
        }
        self.days.push((day, spans.clone()));
        spans
    }

    /// Same answer as [`Schedule::is_open`].
    fn is_open(&mut self, schedule: &Schedule, instant: DateTime<Utc>) -> bool {
        let Some(today) = local_date(instant) else {
            return false;
        };
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .any(|day| covers(&self.get(schedule, day), instant))
    }
}

fn local_date(at: DateTime<Utc>) -> Option<NaiveDate> {
    // Converting an instant at the very end of chrono's range to local time would overflow the date.
    at.naive_utc().checked_add_signed(TimeDelta::hours(14))?;
    at.naive_utc().checked_sub_signed(TimeDelta::hours(14))?;
    Some(at.with_timezone(&OSLO).date_naive())
}

/// The first instant at which the Oslo clock on `day` shows `minute` (0–1439) or later; see the module docs.
fn boundary(day: NaiveDate, minute: u16) -> Option<DateTime<Utc>> {
    let time = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?;
    let local = day.and_time(time);
    match OSLO.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.min(second).with_timezone(&Utc)),
        LocalResult::None => end_of_gap(local),
    }
}

/// The instant the clocks jump past a local time that does not exist. Outside a fall-back the local clock only
/// moves forward, and no zone falls back within hours of springing forward, so a binary search over the
/// surrounding day and a half finds it. tz data changes offsets on whole seconds, so seconds are exact.
fn end_of_gap(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let shows_at_least = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0)
            .is_some_and(|instant| instant.with_timezone(&OSLO).naive_local() >= local)
    };
    let mut low = local
        .checked_sub_signed(TimeDelta::hours(18))?
        .and_utc()
        .timestamp();
    let mut high = local
        .checked_add_signed(TimeDelta::hours(18))?
        .and_utc()
        .timestamp();
    if shows_at_least(low) || !shows_at_least(high) {
        return None;
    }
    // Invariant: the clock shows less than `local` at `low` and at least `local` at `high`.
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if shows_at_least(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    DateTime::from_timestamp(high, 0)
}

fn check_count<T>(day: &str, intervals: &[T]) -> Result<(), RoutingError> {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        return Err(RoutingError::TooManyIntervals {
            day: day.to_owned(),
            count: intervals.len(),
            max: MAX_INTERVALS_PER_DAY,
        });
    }
    Ok(())
}

fn weekday_key(day: Weekday) -> String {
    json::WEEKDAY_KEYS[day.num_days_from_monday() as usize].to_owned()
}

/// Minutes after midnight from strict `HH:MM`; `24:00` is accepted here and refused by callers where it is a start.
fn parse_hhmm(text: &str) -> Result<u16, RoutingError> {
    let invalid = || RoutingError::InvalidTime {
        value: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let digit = |index: usize| match bytes.get(index) {
        Some(byte) if byte.is_ascii_digit() => Ok(u16::from(byte - b'0')),
        _ => Err(invalid()),
    };
    if bytes.len() != 5 || bytes[2] != b':' {
        return Err(invalid());
    }
    let hours = digit(0)? * 10 + digit(1)?;
    let minutes = digit(3)? * 10 + digit(4)?;
    match (hours, minutes) {
        (0..=23, 0..=59) | (24, 0) => Ok(hours * 60 + minutes),
        _ => Err(invalid()),
    }
}

fn format_minute(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Midnight in Oslo (the first instant of the Oslo day) of the day that `unix_ms` falls on, in unix
/// milliseconds: where "today" starts for statistics. `None` outside chrono's range.
pub fn oslo_day_start_ms(unix_ms: i64) -> Option<i64> {
    let day = local_date(DateTime::from_timestamp_millis(unix_ms)?)?;
    boundary(day, 0).map(|b| b.timestamp_millis())
}
