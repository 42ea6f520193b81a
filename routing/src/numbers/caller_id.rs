//! Which number the called party sees when a staff member calls out.
//!
//! Only numbers the municipality owns for this user may be presented: its main number, or the user's own
//! direct number. Carriers check the presented number against the trunk's numbers, and presenting anyone
//! else's number is spoofing, so a request for any other number is not honoured; it falls back to the user's
//! default rather than failing the call, because a wrong header in the app must not stop someone calling.

use super::E164;

/// Which of the user's permitted numbers to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CallerIdChoice {
    /// The municipality's main number (the switchboard), so call-backs reach the switchboard.
    #[default]
    MainNumber,
    /// The user's own direct number.
    DirectNumber,
}

/// A user's caller-ID settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UserCallerIdSettings {
    /// The user's direct number, if the municipality gave them one.
    pub direct_number: Option<E164>,
    /// What to present when a call asks for nothing in particular.
    pub default: CallerIdChoice,
}

/// What one call asks to present, from the app's header or a dialling prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CallerIdRequest {
    MainNumber,
    DirectNumber,
    /// A specific number; honoured only if it is the main number or the user's direct number.
    Number(E164),
}

/// Picks the number to present for an outbound call. Always one the municipality owns for this user.
///
/// A user whose default is [`CallerIdChoice::DirectNumber`] but who has no direct number presents the main
/// number.
pub fn choose_caller_id(
    user: &UserCallerIdSettings,
    requested: Option<CallerIdRequest>,
    main_number: &E164,
) -> E164 {
    let direct = user.direct_number.as_ref();
    let default = match user.default {
        CallerIdChoice::MainNumber => main_number,
        CallerIdChoice::DirectNumber => direct.unwrap_or(main_number),
    };
    let chosen = match requested {
        None => default,
        Some(CallerIdRequest::MainNumber) => main_number,
        Some(CallerIdRequest::DirectNumber) => direct.unwrap_or(default),
        Some(CallerIdRequest::Number(n)) if n == *main_number => main_number,
        Some(CallerIdRequest::Number(n)) if Some(&n) == direct => direct.unwrap_or(default),
        Some(CallerIdRequest::Number(_)) => default,
    };
    chosen.clone()
}

/// Dialling prefix asking to present the municipality's main number on this call (`*80` + number).
pub const PREFIX_MAIN: &str = "*80";
/// Dialling prefix asking to present the user's own direct number on this call (`*81` + number).
pub const PREFIX_DIRECT: &str = "*81";

/// Splits a caller-ID prefix off what a user dialled: desk phones and softphones without our app
/// choose the presented number this way.
pub fn split_caller_id_prefix(dialled: &str) -> (Option<CallerIdRequest>, &str) {
    if let Some(rest) = dialled.strip_prefix(PREFIX_MAIN) {
        (Some(CallerIdRequest::MainNumber), rest)
    } else if let Some(rest) = dialled.strip_prefix(PREFIX_DIRECT) {
        (Some(CallerIdRequest::DirectNumber), rest)
    } else {
        (None, dialled)
    }
}

impl CallerIdRequest {
    /// The app's request header value: `main`, `direct`, or a number (honoured only if it is one of
    /// the user's own; see [`choose_caller_id`]). `None` for anything else.
    pub fn from_header(value: &str) -> Option<CallerIdRequest> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("main") {
            Some(CallerIdRequest::MainNumber)
        } else if v.eq_ignore_ascii_case("direct") {
            Some(CallerIdRequest::DirectNumber)
        } else {
            E164::parse(v).ok().map(CallerIdRequest::Number)
        }
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn prefixes_and_header_values() {
        assert_eq!(
            split_caller_id_prefix("*8191234567"),
            (Some(CallerIdRequest::DirectNumber), "91234567")
        );
        assert_eq!(
            split_caller_id_prefix("*8022334455"),
            (Some(CallerIdRequest::MainNumber), "22334455")
        );
        assert_eq!(split_caller_id_prefix("91234567"), (None, "91234567"));
        assert_eq!(
            CallerIdRequest::from_header(" Direct "),
            Some(CallerIdRequest::DirectNumber)
        );
        assert_eq!(
            CallerIdRequest::from_header("+4764000000"),
            Some(CallerIdRequest::Number(E164::parse("+4764000000").unwrap()))
        );
        assert_eq!(CallerIdRequest::from_header("anything"), None);
    }
}
