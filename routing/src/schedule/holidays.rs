//! Norwegian public holidays (helligdager and offentlige høytidsdager, the days the law closes offices).
//!
//! Sundays in general are not listed: a schedule that is closed on Sundays says so in its weekly hours. Only
//! the two Sundays that carry a name of their own (Easter and Whit Sunday) are here, so that a caller can tell
//! a citizen why it is closed.

use chrono::{Datelike, Days, NaiveDate};

const NEW_YEAR: &str = "Første nyttårsdag";
const MAUNDY_THURSDAY: &str = "Skjærtorsdag";
const GOOD_FRIDAY: &str = "Langfredag";
const EASTER_SUNDAY: &str = "Første påskedag";
const EASTER_MONDAY: &str = "Andre påskedag";
const LABOUR_DAY: &str = "Arbeidernes dag";
const CONSTITUTION_DAY: &str = "Grunnlovsdag";
const ASCENSION: &str = "Kristi himmelfartsdag";
const WHIT_SUNDAY: &str = "Første pinsedag";
const WHIT_MONDAY: &str = "Andre pinsedag";
const CHRISTMAS_DAY: &str = "Første juledag";
const BOXING_DAY: &str = "Andre juledag";

/// Easter Sunday of `year` in the (proleptic) Gregorian calendar, by the anonymous Gregorian algorithm
/// (Meeus/Jones/Butcher). `None` only for years chrono cannot represent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    // Euclidean division keeps the algorithm total for years before 1 AD, where `%` would go negative.
    let y = i64::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// All twelve Norwegian public holidays of `year`, sorted by date, named in Norwegian (bokmål).
///
/// A date can appear twice when a movable feast falls on a fixed one (17 May 2027 is also Whit Monday); the
/// fixed holiday is listed first. Years at the very edge of chrono's range may yield fewer entries.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed = [
        (1, 1, NEW_YEAR),
        (5, 1, LABOUR_DAY),
        (5, 17, CONSTITUTION_DAY),
        (12, 25, CHRISTMAS_DAY),
        (12, 26, BOXING_DAY),
    ];
    let mut list: Vec<(NaiveDate, &'static str)> = fixed
        .iter()
        .filter_map(|&(month, day, name)| Some((NaiveDate::from_ymd_opt(year, month, day)?, name)))
        .collect();
    if let Some(easter) = easter_sunday(year) {
        let movable: [(i64, &'static str); 7] = [
            (-3, MAUNDY_THURSDAY),
            (-2, GOOD_FRIDAY),
            (0, EASTER_SUNDAY),
            (1, EASTER_MONDAY),
            (39, ASCENSION),
            (49, WHIT_SUNDAY),
            (50, WHIT_MONDAY),
        ];
        list.extend(
            movable
                .iter()
                .filter_map(|&(offset, name)| Some((shift(easter, offset)?, name))),
        );
    }
    // A stable sort keeps the fixed holidays ahead of movable ones on the same date.
    list.sort_by_key(|&(date, _)| date);
    list
}

/// The name of the public holiday on `date`, if it is one. When two coincide, the fixed-date one is named.
pub fn is_holiday(date: NaiveDate) -> Option<&'static str> {
    holidays(date.year())
        .into_iter()
        .find(|&(day, _)| day == date)
        .map(|(_, name)| name)
}

fn shift(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    let magnitude = Days::new(days.unsigned_abs());
    if days < 0 {
        date.checked_sub_days(magnitude)
    } else {
        date.checked_add_days(magnitude)
    }
}
