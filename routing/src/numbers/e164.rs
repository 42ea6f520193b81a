//! E.164 numbers, and the spellings of them that carriers and callers send.

use std::fmt;
use std::str::FromStr;

use super::{normalize, NationalPlan};
use crate::RoutingError;

/// Fewest digits (country code included) an [`E164`] may have.
///
/// E.164 itself sets no minimum; 8 is the floor the number plan uses, so that national short numbers such as
/// `+47112` can never pass for public numbers. It does shut out a few small territories whose numbers are
/// 7 digits long (+290 Saint Helena, +683 Niue); lower it here if someone must call them.
pub const MIN_DIGITS: usize = 8;

/// Most digits an [`E164`] may have (ITU-T E.164 §6).
pub const MAX_DIGITS: usize = 15;

/// A public telephone number in international form: `+`, then 8–15 digits, the first not `0`.
///
/// Only the constructors below make one, so holding an `E164` means the text is valid; equality and map
/// lookups compare the canonical text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct E164(String);

impl E164 {
    /// Parses the strict international form, `+4764000000`. Visual separators (spaces, `-`, `.`, `(`, `)`)
    /// are allowed, as in RFC 3966 `tel:` numbers.
    pub fn parse(input: &str) -> Result<Self, RoutingError> {
        let (plus, digits) = normalize(input).map_err(|_| invalid(input, "not digits"))?;
        if !plus {
            return Err(invalid(input, "no leading +"));
        }
        Self::from_digits(&digits).map_err(|reason| invalid(input, reason))
    }

    /// Parses a number as a carrier (or a caller's device) spells it, given the national plan of the trunk
    /// it came from. The caller strips the `tel:`/`sip:` scheme, host and URI parameters first. Accepted:
    /// - `+4764000000`: international form;
    /// - `004764000000`: the international prefix instead of `+`;
    /// - `4764000000`: the country code without any prefix, which Norwegian carriers send;
    /// - `64000000`: a national number, accepted when the national plan knows its range and length.
    ///
    /// Digits alone are read as country code + national number only when they start with the plan's country
    /// code and the rest is a national number the plan knows, so a foreign number without its `+` is refused
    /// rather than guessed at.
    pub fn from_carrier(input: &str, plan: &NationalPlan) -> Result<Self, RoutingError> {
        let (plus, digits) = normalize(input).map_err(|_| invalid(input, "not digits"))?;
        let international = if plus {
            Some(digits.as_str())
        } else {
            digits.strip_prefix("00")
        };
        if let Some(international) = international {
            return Self::from_digits(international).map_err(|reason| invalid(input, reason));
        }
        if let Some(national) = digits.strip_prefix(plan.country_code) {
            if plan.public_range(national).is_some() {
                return Self::from_digits(&digits).map_err(|reason| invalid(input, reason));
            }
        }
        if plan.public_range(&digits).is_some() {
            return Self::from_national(&digits, plan).map_err(|reason| invalid(input, reason));
        }
        Err(invalid(
            input,
            "neither international nor a known national number",
        ))
    }

    /// Builds a number from its digits without the `+` (`4722334455`).
    pub(crate) fn from_digits(digits: &str) -> Result<Self, &'static str> {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("not digits");
        }
        if digits.len() < MIN_DIGITS {
            return Err("too few digits");
        }
        if digits.len() > MAX_DIGITS {
            return Err("too many digits");
        }
        if digits.starts_with('0') {
            return Err("country codes do not start with 0");
        }
        Ok(E164(format!("+{digits}")))
    }

    /// Prefixes a national number with the plan's country code.
    pub(crate) fn from_national(national: &str, plan: &NationalPlan) -> Result<Self, &'static str> {
        Self::from_digits(&format!("{}{national}", plan.country_code))
    }

    /// The canonical text, `+4764000000`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+`, as some trunks want them in the Request-URI.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The national part when the number belongs to `country_code` (`"47"`): `64000000`.
    pub fn national(&self, country_code: &str) -> Option<&str> {
        self.digits().strip_prefix(country_code)
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for E164 {
    type Err = RoutingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

fn invalid(input: &str, reason: &'static str) -> RoutingError {
    // Bounded so a hostile header cannot make every log line and API answer carry kilobytes.
    let value: String = input.chars().take(40).collect();
    RoutingError::InvalidNumber { value, reason }
}
