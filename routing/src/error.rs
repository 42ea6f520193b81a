//! The one error type of the routing crate.

/// Everything that routing rejects. Variants carry the offending value so that the admin API can show it
/// back to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// A clock time that is not `HH:MM` in 00:00–23:59 (or `24:00` as the end of an interval).
    #[error("time {value:?} is not HH:MM (00:00–23:59, or 24:00 as the end of an interval)")]
    InvalidTime { value: String },
    /// A date that is not a real `YYYY-MM-DD`, or an annual `--MM-DD`.
    #[error("date {value:?} is not a valid YYYY-MM-DD (or --MM-DD for every year)")]
    InvalidDate { value: String },
    /// An interval that starts and ends at the same time, so it is unclear whether it means nothing or all day.
    #[error("interval {from}–{to} is empty; a whole day is 00:00–24:00")]
    EmptyInterval { from: String, to: String },
    /// More intervals on one day (weekday or dated exception) than a schedule may hold.
    #[error("{day} has {count} intervals; at most {max} are allowed")]
    TooManyIntervals {
        day: String,
        count: usize,
        max: usize,
    },
    /// The same date (or the same annual month-day) given twice among a schedule's exceptions.
    #[error("the exception for {date} is given more than once")]
    DuplicateException { date: String },
    /// More date exceptions than a schedule may hold.
    #[error("{count} date exceptions; at most {max} are allowed")]
    TooManyExceptions { count: usize, max: usize },
    /// An emergency override without its prompt or target.
    #[error("an override needs a non-empty {field}")]
    EmptyOverride { field: &'static str },
    /// A telephone number in none of the forms the number plan accepts (see [`crate::numbers::E164`]).
    #[error("{value:?} is not a telephone number: {reason}")]
    InvalidNumber { value: String, reason: &'static str },
    /// A hunt group whose configuration cannot be run (a zero ring time or timeout, an empty member id).
    #[error("hunt group {group}: {reason}")]
    InvalidHuntGroup { group: u64, reason: &'static str },
    /// A member listed twice in one hunt group; hunt actions name members, so each may appear only once.
    #[error("hunt group {group} lists member {member:?} more than once")]
    DuplicateMember { group: u64, member: String },
    /// A voice menu whose configuration cannot be run (an empty prompt name, zero attempts, a menu that
    /// routes to itself, …).
    #[error("menu {menu}: {reason}")]
    InvalidMenu { menu: u64, reason: &'static str },
    /// A menu option on something other than one key of 0–9, `*` or `#`.
    #[error("menu {menu}: {key:?} is not a key (0-9, * or #)")]
    InvalidMenuKey { menu: u64, key: String },
    /// A menu choice or target written in none of the forms a menu accepts (`queue:7`, `repeat`, …).
    #[error("menu {menu}: {value:?} is not a menu choice (queue:ID, hunt_group:ID, user:NAME, menu:ID, trunk:ID, message:PROMPT, dial_extension or repeat)")]
    InvalidMenuChoice { menu: u64, value: String },
    /// An ACD queue whose configuration cannot be run (a zero ring timeout, a zero limit, an empty member).
    #[error("queue {queue}: {reason}")]
    InvalidQueue { queue: u64, reason: &'static str },
    /// A user listed twice among one queue's members; each member has one penalty.
    #[error("queue {queue} lists member {member:?} more than once")]
    DuplicateQueueMember { queue: u64, member: String },
    /// An outbound call the user may not make.
    #[error(transparent)]
    Denied(#[from] crate::numbers::Denied),
}
