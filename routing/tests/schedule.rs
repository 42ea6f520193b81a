//! Opening hours, Norwegian public holidays and the emergency override, against real calendar dates.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use proptest::prelude::*;
use switchboard_routing::schedule::{
    decide, easter_sunday, holidays, is_holiday, ClosedReason, Decision, ExceptionDate,
    HoursSource, Interval, MonthDay, Override, Schedule, ScheduleSpec, MAX_EXCEPTIONS,
};
use switchboard_routing::RoutingError;

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("test instant")
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("test date")
}

fn interval(from: &str, to: &str) -> Interval {
    Interval::parse(from, to).expect("test interval")
}

/// The same hours every day of the week, holidays ignored, so only the clock matters.
fn every_day(intervals: &[Interval]) -> Schedule {
    let mut schedule = Schedule::new();
    schedule.set_closed_on_holidays(false);
    for day in WEEK {
        schedule
            .set_weekly(day, intervals.to_vec())
            .expect("few intervals");
    }
    schedule
}

fn from_json(json: &str) -> Result<Schedule, RoutingError> {
    let spec: ScheduleSpec = serde_json::from_str(json).expect("well-formed spec");
    Schedule::try_from(spec)
}

// ---- Public holidays ----

#[test]
fn easter_sunday_matches_known_dates() {
    let known = [
        (1943, "1943-04-25"), // latest possible
        (2000, "2000-04-23"),
        (2019, "2019-04-21"),
        (2024, "2024-03-31"),
        (2025, "2025-04-20"),
        (2026, "2026-04-05"),
        (2027, "2027-03-28"),
        (2028, "2028-04-16"),
        (2029, "2029-04-01"),
        (2030, "2030-04-21"),
        (2285, "2285-03-22"), // earliest possible
    ];
    for (year, expected) in known {
        assert_eq!(easter_sunday(year), Some(date(expected)), "{year}");
    }
}

#[test]
fn holidays_2025_to_2030_are_the_real_dates() {
    // (Maundy Thursday, Good Friday, Easter Sunday, Easter Monday, Ascension, Whit Sunday, Whit Monday)
    let movable = [
        (2025, "04-17 04-18 04-20 04-21 05-29 06-08 06-09"),
        (2026, "04-02 04-03 04-05 04-06 05-14 05-24 05-25"),
        (2027, "03-25 03-26 03-28 03-29 05-06 05-16 05-17"),
        (2028, "04-13 04-14 04-16 04-17 05-25 06-04 06-05"),
        (2029, "03-29 03-30 04-01 04-02 05-10 05-20 05-21"),
        (2030, "04-18 04-19 04-21 04-22 05-30 06-09 06-10"),
    ];
    let movable_names = [
        "Skjærtorsdag",
        "Langfredag",
        "Første påskedag",
        "Andre påskedag",
        "Kristi himmelfartsdag",
        "Første pinsedag",
        "Andre pinsedag",
    ];
    for (year, days) in movable {
        let mut expected: Vec<(NaiveDate, &str)> = vec![
            (date(&format!("{year}-01-01")), "Første nyttårsdag"),
            (date(&format!("{year}-05-01")), "Arbeidernes dag"),
            (date(&format!("{year}-05-17")), "Grunnlovsdag"),
            (date(&format!("{year}-12-25")), "Første juledag"),
            (date(&format!("{year}-12-26")), "Andre juledag"),
        ];
        expected.extend(
            days.split_whitespace()
                .zip(movable_names)
                .map(|(day, name)| (date(&format!("{year}-{day}")), name)),
        );
        expected.sort_by_key(|&(day, _)| day);
        assert_eq!(holidays(year), expected, "{year}");
    }
}

#[test]
fn is_holiday_names_the_day_and_refuses_ordinary_days() {
    assert_eq!(
        is_holiday(date("2026-05-14")),
        Some("Kristi himmelfartsdag")
    );
    assert_eq!(is_holiday(date("2025-12-26")), Some("Andre juledag"));
    assert_eq!(is_holiday(date("2026-04-03")), Some("Langfredag"));
    // Easter Saturday, 24 December and an ordinary Sunday are not public holidays.
    assert_eq!(is_holiday(date("2026-04-04")), None);
    assert_eq!(is_holiday(date("2026-12-24")), None);
    assert_eq!(is_holiday(date("2026-03-01")), None);
}

#[test]
fn coinciding_holidays_are_both_listed_and_the_fixed_one_is_named() {
    // Whit Monday 2027 falls on Constitution Day.
    let on_17_may: Vec<_> = holidays(2027)
        .into_iter()
        .filter(|&(day, _)| day == date("2027-05-17"))
        .collect();
    assert_eq!(
        on_17_may,
        vec![
            (date("2027-05-17"), "Grunnlovsdag"),
            (date("2027-05-17"), "Andre pinsedag")
        ]
    );
    assert_eq!(is_holiday(date("2027-05-17")), Some("Grunnlovsdag"));
}

// ---- Weekly hours, exceptions, holidays ----

#[test]
fn demo_is_open_on_weekdays_inside_office_hours_only() {
    let demo = Schedule::demo_municipality();
    // Tuesday 3 March 2026, winter time (UTC+1).
    assert!(!demo.is_open(at("2026-03-03T06:59:59Z")));
    assert!(demo.is_open(at("2026-03-03T07:00:00Z")));
    assert!(demo.is_open(at("2026-03-03T14:29:59Z")));
    assert!(!demo.is_open(at("2026-03-03T14:30:00Z")));
    // Saturday and Sunday.
    assert!(!demo.is_open(at("2026-03-07T10:00:00Z")));
    assert!(!demo.is_open(at("2026-03-08T10:00:00Z")));
    assert_eq!(
        decide(&demo, None, at("2026-03-07T10:00:00Z")),
        Decision::Closed {
            reason: ClosedReason::OutsideHours
        }
    );
    assert_eq!(
        decide(&demo, None, at("2026-03-03T10:00:00Z")),
        Decision::Open
    );
}

#[test]
fn holiday_closing_beats_weekly_hours() {
    let mut demo = Schedule::demo_municipality();
    // Ascension Day 2026 is a Thursday, 10:00 UTC is 12:00 in Oslo.
    let noon = at("2026-05-14T10:00:00Z");
    assert!(!demo.is_open(noon));
    assert_eq!(
        decide(&demo, None, noon),
        Decision::Closed {
            reason: ClosedReason::Holiday("Kristi himmelfartsdag")
        }
    );
    demo.set_closed_on_holidays(false);
    assert!(demo.is_open(noon));
}

#[test]
fn exceptions_beat_weekly_hours_and_holidays() {
    let demo = Schedule::demo_municipality();
    // Wednesday 23 December 2026: 08:00–14:00 instead of 15:30.
    assert!(demo.is_open(at("2026-12-23T12:59:59Z")));
    assert!(!demo.is_open(at("2026-12-23T13:00:00Z")));
    assert_eq!(
        decide(&demo, None, at("2026-12-23T13:30:00Z")),
        Decision::Closed {
            reason: ClosedReason::Exception
        }
    );
    // Thursday 24 and 31 December are closed all day.
    assert!(!demo.is_open(at("2026-12-24T09:00:00Z")));
    assert!(!demo.is_open(at("2026-12-31T09:00:00Z")));
    assert_eq!(
        demo.hours_on(date("2026-12-31")).source,
        HoursSource::Exception(ExceptionDate::Annually(
            MonthDay::new(12, 31).expect("valid")
        ))
    );

    let mut schedule = Schedule::demo_municipality();
    // A dated exception beats the annual one, and an exception beats a holiday.
    schedule
        .set_exception(
            ExceptionDate::On(date("2026-12-24")),
            vec![interval("09:00", "12:00")],
        )
        .expect("ok");
    schedule
        .set_exception(
            ExceptionDate::On(date("2026-05-14")),
            vec![interval("10:00", "12:00")],
        )
        .expect("ok");
    assert!(schedule.is_open(at("2026-12-24T10:00:00Z")));
    assert!(!schedule.is_open(at("2027-12-24T10:00:00Z")));
    assert!(schedule.is_open(at("2026-05-14T09:00:00Z")));
    assert!(!schedule.is_open(at("2026-05-14T10:00:00Z")));
    assert_eq!(
        schedule.remove_exception(ExceptionDate::On(date("2026-05-14"))),
        Some(vec![interval("10:00", "12:00")])
    );
    assert!(!schedule.is_open(at("2026-05-14T09:00:00Z")));
}

#[test]
fn several_intervals_a_day_and_one_past_midnight() {
    let schedule = every_day(&[
        interval("08:00", "11:00"),
        interval("12:00", "15:00"),
        interval("22:00", "02:00"),
    ]);
    // Tuesday 3 March 2026 (UTC+1).
    assert!(schedule.is_open(at("2026-03-03T09:00:00Z")));
    assert!(!schedule.is_open(at("2026-03-03T10:30:00Z")));
    assert!(schedule.is_open(at("2026-03-03T11:00:00Z")));
    assert!(schedule.is_open(at("2026-03-03T23:30:00Z")));
    assert!(schedule.is_open(at("2026-03-04T00:59:59Z")));
    assert!(!schedule.is_open(at("2026-03-04T01:00:00Z")));
}

#[test]
fn a_night_interval_runs_into_a_holiday_but_the_holiday_evening_stays_closed() {
    let mut schedule = every_day(&[interval("20:00", "02:00")]);
    schedule.set_closed_on_holidays(true);
    // Saturday 16 May 2026 20:00 → Sunday 17 May (Constitution Day) 02:00, summer time (UTC+2).
    assert!(schedule.is_open(at("2026-05-16T23:30:00Z")));
    assert!(!schedule.is_open(at("2026-05-17T00:00:00Z")));
    assert!(!schedule.is_open(at("2026-05-17T19:00:00Z")));
    assert_eq!(
        decide(&schedule, None, at("2026-05-17T19:00:00Z")),
        Decision::Closed {
            reason: ClosedReason::Holiday("Grunnlovsdag")
        }
    );
}

#[test]
fn an_interval_may_end_at_24_00_and_00_00_means_the_same() {
    assert_eq!(interval("18:00", "00:00"), interval("18:00", "24:00"));
    let schedule = every_day(&[interval("18:00", "24:00")]);
    assert!(schedule.is_open(at("2026-03-03T22:59:59Z")));
    assert!(!schedule.is_open(at("2026-03-03T23:00:00Z")));
}

// ---- Override ----

#[test]
fn override_beats_everything() {
    let demo = Schedule::demo_municipality();
    let closed = Override::ClosedWithMessage("Vi har strømbrudd.".into());
    let redirect = Override::RouteTo("queue:7".into());
    for instant in [
        at("2026-03-03T10:00:00Z"),
        at("2026-03-07T10:00:00Z"),
        at("2026-05-14T10:00:00Z"),
        at("2026-12-24T10:00:00Z"),
    ] {
        assert_eq!(
            decide(&demo, Some(&closed), instant),
            Decision::Closed {
                reason: ClosedReason::Override("Vi har strømbrudd.".into())
            }
        );
        assert_eq!(
            decide(&demo, Some(&redirect), instant),
            Decision::Redirect {
                target: "queue:7".into()
            }
        );
    }
    let json = serde_json::to_string(&decide(&demo, Some(&redirect), at("2026-03-03T10:00:00Z")));
    assert_eq!(
        json.expect("serializes"),
        r#"{"state":"redirect","target":"queue:7"}"#
    );
    // Switched off again: the schedule decides on the very next call.
    assert_eq!(
        decide(&demo, None, at("2026-03-03T10:00:00Z")),
        Decision::Open
    );
}

#[test]
fn overrides_round_trip_as_json_and_refuse_empty_strings() {
    let redirect = Override::RouteTo("queue:7".into());
    let json = serde_json::to_string(&redirect).expect("serializes");
    assert_eq!(json, r#"{"route_to":"queue:7"}"#);
    assert_eq!(
        serde_json::from_str::<Override>(&json).expect("reads back"),
        redirect
    );
    let closed: Override =
        serde_json::from_str(r#"{"closed_with_message":"Stengt"}"#).expect("valid");
    assert_eq!(closed, Override::ClosedWithMessage("Stengt".into()));
    assert!(serde_json::from_str::<Override>(r#"{"closed_with_message":"  "}"#).is_err());
    assert!(serde_json::from_str::<Override>(r#"{"route_to":""}"#).is_err());
    assert_eq!(
        Override::RouteTo(String::new()).validate(),
        Err(RoutingError::EmptyOverride { field: "target" })
    );
}

// ---- Daylight saving time (2026: 29 March and 25 October, both at 01:00 UTC) ----

#[test]
fn eight_o_clock_follows_the_clock_across_both_switches() {
    let schedule = every_day(&[interval("08:00", "15:30")]);
    // Saturday before the spring switch: 08:00 CET is 07:00 UTC; Sunday after it: 08:00 CEST is 06:00 UTC.
    assert!(!schedule.is_open(at("2026-03-28T06:59:59Z")));
    assert!(schedule.is_open(at("2026-03-28T07:00:00Z")));
    assert!(!schedule.is_open(at("2026-03-29T05:59:59Z")));
    assert!(schedule.is_open(at("2026-03-29T06:00:00Z")));
    // And back in October.
    assert!(!schedule.is_open(at("2026-10-24T05:59:59Z")));
    assert!(schedule.is_open(at("2026-10-24T06:00:00Z")));
    assert!(!schedule.is_open(at("2026-10-25T06:59:59Z")));
    assert!(schedule.is_open(at("2026-10-25T07:00:00Z")));
    assert!(schedule.is_open(at("2026-10-25T14:29:59Z")));
    assert!(!schedule.is_open(at("2026-10-25T14:30:00Z")));
}

#[test]
fn spring_forward_gap_boundaries_happen_when_the_clocks_jump() {
    let just_before = at("2026-03-29T00:59:59Z"); // 01:59:59 CET
    let jump = at("2026-03-29T01:00:00Z"); // 03:00 CEST
                                           // 02:30 does not exist that night: the interval opens when the clocks jump.
    let late = every_day(&[interval("02:30", "04:00")]);
    assert!(!late.is_open(just_before));
    assert!(late.is_open(jump));
    assert!(!late.is_open(at("2026-03-29T02:00:00Z")));
    assert_eq!(late.next_change(at("2026-03-29T00:00:00Z")), Some(jump));
    assert_eq!(late.next_change(jump), Some(at("2026-03-29T02:00:00Z")));
    // 02:30 ends an interval at the jump too.
    let early = every_day(&[interval("01:00", "02:30")]);
    assert!(early.is_open(just_before));
    assert!(!early.is_open(jump));
    // 02:00–03:00 is the missing hour itself: never open that day, open as usual the day before and after.
    let missing = every_day(&[interval("02:00", "03:00")]);
    assert!(!missing.is_open(just_before));
    assert!(!missing.is_open(jump));
    assert!(missing.is_open(at("2026-03-28T01:30:00Z")));
    assert_eq!(
        missing.next_change(at("2026-03-28T12:00:00Z")),
        Some(at("2026-03-30T00:00:00Z"))
    );
}

#[test]
fn fall_back_boundaries_happen_the_first_time_the_clock_shows_them() {
    // 02:00–03:00 happens twice: 00:00–01:00 UTC in summer time, then 01:00–02:00 UTC in winter time.
    let late = every_day(&[interval("02:30", "03:30")]);
    assert!(!late.is_open(at("2026-10-25T00:29:59Z")));
    assert!(late.is_open(at("2026-10-25T00:30:00Z")));
    assert!(late.is_open(at("2026-10-25T01:15:00Z"))); // the second 02:15 stays open
    assert!(late.is_open(at("2026-10-25T02:29:59Z")));
    assert!(!late.is_open(at("2026-10-25T02:30:00Z")));
    assert_eq!(
        late.next_change(at("2026-10-25T00:30:00Z")),
        Some(at("2026-10-25T02:30:00Z"))
    );
    let early = every_day(&[interval("01:00", "02:30")]);
    assert!(early.is_open(at("2026-10-25T00:29:59Z")));
    assert!(!early.is_open(at("2026-10-25T00:30:00Z")));
    assert!(!early.is_open(at("2026-10-25T01:15:00Z"))); // the second 02:15 stays closed
}

// ---- next_change ----

#[test]
fn next_change_across_a_weekend() {
    let demo = Schedule::demo_municipality();
    // Friday 6 March 2026, open: closes at 15:30 CET.
    assert_eq!(
        demo.next_change(at("2026-03-06T10:00:00Z")),
        Some(at("2026-03-06T14:30:00Z"))
    );
    // Closed Friday evening: opens Monday 08:00 CET.
    assert_eq!(
        demo.next_change(at("2026-03-06T14:30:00Z")),
        Some(at("2026-03-09T07:00:00Z"))
    );
    // Easter 2026: Thursday to Monday are holidays (Saturday is closed anyway), so Tuesday 08:00 CEST.
    assert_eq!(
        demo.next_change(at("2026-04-01T14:00:00Z")),
        Some(at("2026-04-07T06:00:00Z"))
    );
    // Christmas 2026: 23rd closes at 14:00; 24th exception, 25th–26th holidays, 27th Sunday, 31st exception.
    assert_eq!(
        demo.next_change(at("2026-12-23T12:00:00Z")),
        Some(at("2026-12-23T13:00:00Z"))
    );
    assert_eq!(
        demo.next_change(at("2026-12-23T13:00:00Z")),
        Some(at("2026-12-28T07:00:00Z"))
    );
}

#[test]
fn next_change_across_dst() {
    let schedule = every_day(&[interval("08:00", "15:30")]);
    assert_eq!(
        schedule.next_change(at("2026-03-28T16:00:00Z")),
        Some(at("2026-03-29T06:00:00Z"))
    );
    assert_eq!(
        schedule.next_change(at("2026-10-24T16:00:00Z")),
        Some(at("2026-10-25T07:00:00Z"))
    );
    // The demo's Friday-to-Monday wait straddles the October switch.
    let demo = Schedule::demo_municipality();
    assert_eq!(
        demo.next_change(at("2026-10-23T13:30:00Z")),
        Some(at("2026-10-26T07:00:00Z"))
    );
}

#[test]
fn next_change_is_none_when_nothing_ever_changes() {
    assert_eq!(
        Schedule::new().next_change(at("2026-03-03T10:00:00Z")),
        None
    );
    let around_the_clock = every_day(&[interval("00:00", "24:00")]);
    assert!(around_the_clock.is_open(at("2026-03-03T10:00:00Z")));
    assert_eq!(
        around_the_clock.next_change(at("2026-03-03T10:00:00Z")),
        None
    );
    // The same with holidays closing: the next change is Christmas Day, 00:00 CET.
    let mut with_holidays = around_the_clock.clone();
    with_holidays.set_closed_on_holidays(true);
    assert_eq!(
        with_holidays.next_change(at("2026-06-01T10:00:00Z")),
        Some(at("2026-12-24T23:00:00Z"))
    );
}

#[test]
fn next_change_finds_exceptions_years_ahead() {
    // Open around the clock until a dated closure more than four years on: the change is its first instant,
    // which the eve's interval ends at (00:00 CEST).
    let mut always = every_day(&[interval("00:00", "24:00")]);
    always
        .set_exception(ExceptionDate::On(date("2031-06-02")), Vec::new())
        .expect("ok");
    let start = at("2026-01-01T12:00:00Z");
    assert_eq!(always.next_change(start), Some(at("2031-06-01T22:00:00Z")));
    // Only ever open on 29 February: from March 2026 that is 2028, 08:00 CET.
    let mut leap = Schedule::new();
    let leap_day = ExceptionDate::Annually(MonthDay::new(2, 29).expect("leap day"));
    leap.set_exception(leap_day, vec![interval("08:00", "09:00")])
        .expect("ok");
    assert_eq!(
        leap.next_change(at("2026-03-01T00:00:00Z")),
        Some(at("2028-02-29T07:00:00Z"))
    );
}

#[test]
fn dst_rules_are_known_until_2099() {
    let schedule = every_day(&[interval("08:00", "09:00")]);
    assert!(schedule.is_open(at("2099-07-01T06:30:00Z")));
    assert!(schedule.is_open(at("2099-12-01T07:30:00Z")));
}

// ---- JSON ----

#[test]
fn demo_round_trips_through_json() {
    let demo = Schedule::demo_municipality();
    let json = serde_json::to_string(&demo).expect("serializes");
    assert!(
        json.contains(r#"{"date":"--12-23","hours":[{"from":"08:00","to":"14:00"}]}"#),
        "{json}"
    );
    assert!(
        json.contains(r#""mon":[{"from":"08:00","to":"15:30"}]"#),
        "{json}"
    );
    assert_eq!(
        serde_json::from_str::<Schedule>(&json).expect("reads back"),
        demo
    );

    let mut custom = every_day(&[interval("22:00", "02:00"), interval("08:00", "24:00")]);
    custom
        .set_exception(ExceptionDate::On(date("2026-06-19")), Vec::new())
        .expect("ok");
    custom
        .set_exception(
            ExceptionDate::Annually(MonthDay::new(2, 29).expect("leap day")),
            Vec::new(),
        )
        .expect("ok");
    let json = serde_json::to_string(&custom).expect("serializes");
    assert_eq!(
        serde_json::from_str::<Schedule>(&json).expect("reads back"),
        custom
    );
}

#[test]
fn json_defaults_close_missing_days_and_honour_holidays() {
    let schedule = from_json(r#"{"weekly":{"mon":[{"from":"08:00","to":"15:30"}]},"exceptions":[{"date":"2026-03-09"}]}"#)
        .expect("valid");
    assert!(schedule.closed_on_holidays());
    assert_eq!(schedule.weekly(Weekday::Mon), &[interval("08:00", "15:30")]);
    assert!(schedule.weekly(Weekday::Tue).is_empty());
    assert!(!schedule.is_open(at("2026-03-09T10:00:00Z")));
    assert!(schedule.is_open(at("2026-03-16T10:00:00Z")));
}

#[test]
fn json_validation_names_what_is_wrong() {
    let one_monday = |from: &str, to: &str| {
        from_json(&format!(
            r#"{{"weekly":{{"mon":[{{"from":"{from}","to":"{to}"}}]}}}}"#
        ))
    };
    for bad in [
        "8:00", "08:0", "0800", "12:60", "25:00", "aa:bb", "08:00 ", "+8:00", "08-00",
    ] {
        assert_eq!(
            one_monday(bad, "15:30"),
            Err(RoutingError::InvalidTime { value: bad.into() }),
            "{bad}"
        );
    }
    assert_eq!(
        one_monday("24:00", "02:00"),
        Err(RoutingError::InvalidTime {
            value: "24:00".into()
        })
    );
    assert_eq!(
        one_monday("08:00", "24:01"),
        Err(RoutingError::InvalidTime {
            value: "24:01".into()
        })
    );
    assert_eq!(
        one_monday("08:00", "08:00"),
        Err(RoutingError::EmptyInterval {
            from: "08:00".into(),
            to: "08:00".into()
        })
    );

    let seventeen = vec![r#"{"from":"08:00","to":"09:00"}"#; 17].join(",");
    assert_eq!(
        from_json(&format!(r#"{{"weekly":{{"fri":[{seventeen}]}}}}"#)),
        Err(RoutingError::TooManyIntervals {
            day: "fri".into(),
            count: 17,
            max: 16
        })
    );
    let sixteen = vec![r#"{"from":"08:00","to":"09:00"}"#; 16].join(",");
    assert!(from_json(&format!(r#"{{"weekly":{{"fri":[{sixteen}]}}}}"#)).is_ok());

    let one_exception = |day: &str| from_json(&format!(r#"{{"exceptions":[{{"date":"{day}"}}]}}"#));
    for bad in [
        "2026-02-29",
        "2026-13-01",
        "2026-2-03",
        "26-02-03",
        "--02-30",
        "--13-01",
        "+2026-01-01",
        "0000-01-01",
        "",
    ] {
        assert_eq!(
            one_exception(bad),
            Err(RoutingError::InvalidDate { value: bad.into() }),
            "{bad}"
        );
    }
    for good in ["2028-02-29", "--02-29", "9999-12-31"] {
        assert!(one_exception(good).is_ok(), "{good}");
    }
    assert_eq!(
        from_json(
            r#"{"exceptions":[{"date":"--12-24"},{"date":"--12-24","hours":[{"from":"08:00","to":"12:00"}]}]}"#
        ),
        Err(RoutingError::DuplicateException {
            date: "--12-24".into()
        })
    );
    let many: Vec<String> = (0..=MAX_EXCEPTIONS)
        .map(|n| {
            format!(
                r#"{{"date":"{}"}}"#,
                date("2030-01-01") + TimeDelta::days(n as i64)
            )
        })
        .collect();
    assert_eq!(
        from_json(&format!(r#"{{"exceptions":[{}]}}"#, many.join(","))),
        Err(RoutingError::TooManyExceptions {
            count: MAX_EXCEPTIONS + 1,
            max: MAX_EXCEPTIONS
        })
    );
}

#[test]
fn json_refuses_unknown_fields_and_reports_validation_through_serde() {
    assert!(serde_json::from_str::<Schedule>(r#"{"weekly":{"tues":[]}}"#).is_err());
    assert!(
        serde_json::from_str::<Schedule>(r#"{"weekly":{},"closed_on_holiday":false}"#).is_err()
    );
    let error =
        serde_json::from_str::<Schedule>(r#"{"weekly":{"mon":[{"from":"8","to":"15:30"}]}}"#)
            .expect_err("invalid time");
    assert!(error.to_string().contains("HH:MM"), "{error}");
}

#[test]
fn building_in_code_is_validated_too() {
    assert!(matches!(
        Interval::new(1440, 60),
        Err(RoutingError::InvalidTime { .. })
    ));
    assert!(matches!(
        Interval::new(60, 1441),
        Err(RoutingError::InvalidTime { .. })
    ));
    assert!(Interval::new(0, 1440).is_ok());
    assert!(matches!(
        MonthDay::new(2, 30),
        Err(RoutingError::InvalidDate { .. })
    ));
    let mut schedule = Schedule::new();
    let too_many = vec![interval("08:00", "09:00"); 17];
    assert!(matches!(
        schedule.set_weekly(Weekday::Mon, too_many),
        Err(RoutingError::TooManyIntervals { .. })
    ));
    let far = NaiveDate::from_ymd_opt(10_000, 1, 1).expect("chrono reaches it");
    assert!(matches!(
        schedule.set_exception(ExceptionDate::On(far), Vec::new()),
        Err(RoutingError::InvalidDate { .. })
    ));
    for n in 0..MAX_EXCEPTIONS {
        let day = date("2030-01-01") + TimeDelta::days(n as i64);
        schedule
            .set_exception(ExceptionDate::On(day), Vec::new())
            .expect("room left");
    }
    assert!(matches!(
        schedule.set_exception(ExceptionDate::On(date("2020-01-01")), Vec::new()),
        Err(RoutingError::TooManyExceptions { .. })
    ));
    // Replacing an existing exception needs no room.
    assert!(schedule
        .set_exception(
            ExceptionDate::On(date("2030-01-01")),
            vec![interval("08:00", "09:00")]
        )
        .is_ok());
}

// ---- Properties ----

fn any_interval() -> impl Strategy<Value = Interval> {
    // Half the boundaries land in the small hours, where the DST switches are.
    let minute = prop_oneof![0u16..1440, 60u16..240];
    let end = prop_oneof![0u16..=1440, 60u16..240];
    (minute, end).prop_filter_map("non-empty", |(from, to)| Interval::new(from, to).ok())
}

fn any_schedule() -> impl Strategy<Value = Schedule> {
    let week = proptest::collection::vec(proptest::collection::vec(any_interval(), 0..3), 7);
    let exception_date = prop_oneof![
        (0i64..6000).prop_map(|n| ExceptionDate::On(date("2020-01-01") + TimeDelta::days(n))),
        (1u32..=12, 1u32..=31).prop_filter_map("real month-day", |(m, d)| MonthDay::new(m, d)
            .ok()
            .map(ExceptionDate::Annually)),
    ];
    let exceptions = proptest::collection::vec(
        (
            exception_date,
            proptest::collection::vec(any_interval(), 0..3),
        ),
        0..6,
    );
    (week, exceptions, any::<bool>()).prop_map(|(week, exceptions, closed_on_holidays)| {
        let mut schedule = Schedule::new();
        schedule.set_closed_on_holidays(closed_on_holidays);
        for (day, intervals) in WEEK.into_iter().zip(week) {
            schedule
                .set_weekly(day, intervals)
                .expect("at most two intervals");
        }
        for (day, intervals) in exceptions {
            schedule
                .set_exception(day, intervals)
                .expect("few exceptions");
        }
        schedule
    })
}

/// Instants from 2020 to 2035, half of them within a day of a DST switch in 2026.
fn interesting_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let spring = at("2026-03-28T12:00:00Z").timestamp();
    let autumn = at("2026-10-24T12:00:00Z").timestamp();
    let seconds = prop_oneof![
        at("2020-01-01T00:00:00Z").timestamp()..at("2035-01-01T00:00:00Z").timestamp(),
        spring..spring + 86_400,
        autumn..autumn + 86_400,
    ];
    seconds.prop_filter_map("representable", |s| DateTime::from_timestamp(s, 0))
}

proptest! {
    #[test]
    fn never_panics_for_any_instant(
        schedule in any_schedule(),
        seconds in DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp(),
        nanos in 0u32..1_000_000_000,
    ) {
        let instant = DateTime::from_timestamp(seconds, nanos).unwrap_or(DateTime::<Utc>::MAX_UTC);
        for candidate in [instant, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let open = schedule.is_open(candidate);
            let _ = decide(&schedule, None, candidate);
            if let Some(change) = schedule.next_change(candidate) {
                prop_assert!(change > candidate);
                prop_assert_ne!(schedule.is_open(change), open);
            }
        }
        let _ = Schedule::demo_municipality().is_open(instant);
    }

    #[test]
    fn next_change_is_the_first_later_instant_that_flips(
        schedule in any_schedule(),
        start in interesting_instant(),
        probes in proptest::collection::vec(0.0f64..1.0, 8),
    ) {
        let open = schedule.is_open(start);
        if let Some(change) = schedule.next_change(start) {
            prop_assert!(change > start);
            prop_assert_ne!(schedule.is_open(change), open);
            // Boundaries are whole local minutes, and Oslo's offsets and switches are whole hours.
            prop_assert_eq!(change.timestamp().rem_euclid(60), 0);
            prop_assert_eq!(change.timestamp_subsec_nanos(), 0);
            // Nothing flips in between: probe the last second before and a few points inside.
            prop_assert_eq!(schedule.is_open(change - TimeDelta::seconds(1)), open);
            let span = (change - start).num_seconds();
            for fraction in probes {
                let probe = start + TimeDelta::seconds((span as f64 * fraction) as i64);
                if probe < change {
                    prop_assert_eq!(schedule.is_open(probe), open, "flipped at {} before {}", probe, change);
                }
            }
        }
    }

    #[test]
    fn easter_is_a_sunday_between_22_march_and_25_april(year in 1583i32..=9999) {
        let easter = easter_sunday(year).expect("in chrono's range");
        prop_assert_eq!(easter.weekday(), Weekday::Sun);
        prop_assert!(easter >= NaiveDate::from_ymd_opt(year, 3, 22).expect("date"));
        prop_assert!(easter <= NaiveDate::from_ymd_opt(year, 4, 25).expect("date"));
        prop_assert_eq!(holidays(year).len(), 12);
    }
}

#[test]
fn oslo_day_starts_at_local_midnight_across_dst() {
    use switchboard_routing::schedule::oslo_day_start_ms;
    let ms = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    // Winter (UTC+1): 28 Nov 2026 14:00 Oslo → 27 Nov 23:00 UTC.
    assert_eq!(
        oslo_day_start_ms(ms("2026-11-28T14:00:00+01:00")),
        Some(ms("2026-11-28T00:00:00+01:00"))
    );
    // Just after midnight belongs to the new day; just before, to the old one.
    assert_eq!(
        oslo_day_start_ms(ms("2026-11-28T00:00:01+01:00")),
        Some(ms("2026-11-28T00:00:00+01:00"))
    );
    assert_eq!(
        oslo_day_start_ms(ms("2026-11-27T23:59:59+01:00")),
        Some(ms("2026-11-27T00:00:00+01:00"))
    );
    // Summer (UTC+2), and the day the clocks spring forward (29 March 2026, 02:00 → 03:00).
    assert_eq!(
        oslo_day_start_ms(ms("2026-07-01T09:00:00+02:00")),
        Some(ms("2026-07-01T00:00:00+02:00"))
    );
    assert_eq!(
        oslo_day_start_ms(ms("2026-03-29T12:00:00+02:00")),
        Some(ms("2026-03-29T00:00:00+01:00"))
    );
}
