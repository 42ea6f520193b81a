//! The number plan: what a staff member dialled, whether they may call it, which caller ID the far end sees,
//! and where a call to one of the municipality's public numbers goes.
//!
//! # Model
//! - [`E164`] is a public number in international form. Carriers spell the same number several ways
//!   (`+4764000000`, `004764000000`, `4764000000`); [`E164::from_carrier`] reads them all into one form so
//!   that the inbound table ([`NumberPlan`]) needs one entry per number.
//! - [`classify_dialled`] turns what a staff member typed into a [`Dialled`] with a [`NumberClass`]. The
//!   national ranges are data ([`NationalPlan`], [`NORWAY`]) so a change in Nkom's plan is a table edit.
//! - [`check`] applies a user's [`OutboundPermission`]; emergency numbers pass whatever it says.
//! - [`NumberPlan::route_internal`] combines the two into a [`RouteDecision`] for call control.
//! - [`choose_caller_id`] picks the presented number among those the municipality owns for the user.
//!
//! The order in which [`classify_dialled`] tries readings matters and is fixed:
//! 1. `+` or `00`: international form. A Norwegian number dialled this way (`+47 22 33 44 55`) is classified
//!    by the national table like any national number, so `+4782012345` is still premium.
//! 2. Emergency numbers (110, 112, 113), before extensions, so no extension plan can shadow them.
//! 3. Extensions: exactly [`PlanSettings::extension_len`] digits, not starting with `0` (which begins
//!    international numbers and Norway's 5-digit numbers). With 4-digit extensions, 4-digit national short
//!    numbers (1800–1899 directory enquiries) cannot be dialled; the municipality does not want them anyway.
//! 4. The national table.

mod caller_id;
mod e164;
mod national;
mod plan;

use std::fmt;

pub use caller_id::{
    choose_caller_id, split_caller_id_prefix, CallerIdChoice, CallerIdRequest,
    UserCallerIdSettings, PREFIX_DIRECT, PREFIX_MAIN,
};
pub use e164::{E164, MAX_DIGITS, MIN_DIGITS};
pub use national::{NationalPlan, NationalRange, NORWAY};
pub use plan::{NumberPlan, RouteDecision, Target};

/// What kind of number was dialled; permissions are granted per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberClass {
    /// A staff member's internal extension.
    Extension,
    /// 110 fire, 112 police, 113 ambulance.
    Emergency,
    /// A fixed-network number.
    NationalGeographic,
    /// A mobile number, including machine-to-machine ranges.
    NationalMobile,
    /// Special numbers billed as ordinary calls or free: 800/810/815/85x, 5-digit, 3-digit, 116xxx.
    NationalSpecial,
    /// Numbers that bill the caller for content or at high rates: 820, 829, directory enquiries.
    Premium,
    /// A number outside the country.
    International,
    /// Not a number anyone can call.
    Invalid,
}

impl fmt::Display for NumberClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumberClass::Extension => "internal",
            NumberClass::Emergency => "emergency",
            NumberClass::NationalGeographic => "national",
            NumberClass::NationalMobile => "mobile",
            NumberClass::NationalSpecial => "national special",
            NumberClass::Premium => "premium-rate",
            NumberClass::International => "international",
            NumberClass::Invalid => "invalid",
        })
    }
}

/// How the municipality's dial plan is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSettings {
    /// Length of internal extensions (4 in the demo: 1001–1010).
    pub extension_len: usize,
    /// The national plan of the trunk: numbers without a prefix are read in it.
    pub national: NationalPlan,
}

impl Default for PlanSettings {
    fn default() -> Self {
        PlanSettings {
            extension_len: 4,
            national: NORWAY,
        }
    }
}

/// A number on the public network, as call control should send it to the trunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PublicNumber {
    E164(E164),
    /// A national short number (`112`, `02800`, `116117`): it has no international form, so it goes to the
    /// trunk exactly as these digits.
    Short(String),
}

impl fmt::Display for PublicNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublicNumber::E164(n) => n.fmt(f),
            PublicNumber::Short(s) => f.write_str(s),
        }
    }
}

/// What a staff member dialled, after [`classify_dialled`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dialled {
    /// An internal extension, digits only.
    Extension(String),
    /// Anything on the public network, emergency numbers included. `class` is never `Extension` or
    /// `Invalid` when made by [`classify_dialled`].
    Public {
        class: NumberClass,
        number: PublicNumber,
    },
    Invalid(InvalidDial),
}

impl Dialled {
    pub fn class(&self) -> NumberClass {
        match self {
            Dialled::Extension(_) => NumberClass::Extension,
            Dialled::Public { class, .. } => *class,
            Dialled::Invalid(_) => NumberClass::Invalid,
        }
    }

    pub fn is_emergency(&self) -> bool {
        self.class() == NumberClass::Emergency
    }
}

/// Why a dialled string is no number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum InvalidDial {
    #[error("nothing was dialled")]
    Empty,
    #[error("contains something other than digits, a leading + and visual separators")]
    BadCharacter,
    #[error("longer than any telephone number")]
    TooLong,
    #[error("not a number in the national numbering plan")]
    NotInPlan,
    #[error("not a valid international number")]
    BadInternational,
}

/// Longest input looked at; a full E.164 number with `00` and generous separators fits easily.
const MAX_INPUT_BYTES: usize = 64;

/// Removes RFC 3966 visual separators and white space; returns whether there was a leading `+` and the
/// digits.
pub(crate) fn normalize(input: &str) -> Result<(bool, String), InvalidDial> {
    let input = input.trim();
    if input.len() > MAX_INPUT_BYTES {
        return Err(InvalidDial::TooLong);
    }
    let (plus, rest) = match input.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '.' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => return Err(InvalidDial::BadCharacter),
        }
    }
    if digits.is_empty() {
        return Err(InvalidDial::Empty);
    }
    Ok((plus, digits))
}

/// Classifies what a staff member dialled (the user part of the Request-URI, or what the app sends). See
/// the module documentation for the order of readings. Never panics, whatever the input.
pub fn classify_dialled(input: &str, settings: &PlanSettings) -> Dialled {
    let plan = &settings.national;
    let (plus, digits) = match normalize(input) {
        Ok(v) => v,
        Err(reason) => return Dialled::Invalid(reason),
    };
    let international = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    if let Some(international) = international {
        if let Some(national) = international.strip_prefix(plan.country_code) {
            return classify_national(national, plan);
        }
        return match E164::from_digits(international) {
            Ok(number) => Dialled::Public {
                class: NumberClass::International,
                number: PublicNumber::E164(number),
            },
            Err(_) => Dialled::Invalid(InvalidDial::BadInternational),
        };
    }
    if plan.emergency.contains(&digits.as_str()) {
        return emergency(&digits);
    }
    if digits.len() == settings.extension_len && !digits.starts_with('0') {
        return Dialled::Extension(digits);
    }
    classify_national(&digits, plan)
}

fn emergency(digits: &str) -> Dialled {
    Dialled::Public {
        class: NumberClass::Emergency,
        number: PublicNumber::Short(digits.to_owned()),
    }
}

fn classify_national(national: &str, plan: &NationalPlan) -> Dialled {
    // `+47 112` from a phone's contact list is still a cry for help; read it as 112, not as an error.
    if plan.emergency.contains(&national) {
        return emergency(national);
    }
    let Some(row) = plan.range(national) else {
        return Dialled::Invalid(InvalidDial::NotInPlan);
    };
    let number = if row.len >= plan.e164_min_len {
        match E164::from_national(national, plan) {
            Ok(n) => PublicNumber::E164(n),
            Err(_) => return Dialled::Invalid(InvalidDial::NotInPlan),
        }
    } else {
        PublicNumber::Short(national.to_owned())
    };
    Dialled::Public {
        class: row.class,
        number,
    }
}

/// Which kinds of number a user may call out to. Emergency numbers are not listed: they are always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutboundPermission {
    pub internal: bool,
    /// Fixed-network numbers and special numbers billed as ordinary calls.
    pub national: bool,
    pub mobile: bool,
    pub international: bool,
    pub premium: bool,
}

impl Default for OutboundPermission {
    /// What a municipal employee may call unless the administrator says otherwise: everything at home,
    /// nothing abroad or premium-rate, which is where toll fraud and surprise bills come from.
    fn default() -> Self {
        OutboundPermission {
            internal: true,
            national: true,
            mobile: true,
            international: false,
            premium: false,
        }
    }
}

impl OutboundPermission {
    /// Whether a number of this class may be called.
    pub fn allows(&self, class: NumberClass) -> bool {
        match class {
            NumberClass::Emergency => true,
            NumberClass::Extension => self.internal,
            NumberClass::NationalGeographic | NumberClass::NationalSpecial => self.national,
            NumberClass::NationalMobile => self.mobile,
            NumberClass::Premium => self.premium,
            NumberClass::International => self.international,
            NumberClass::Invalid => false,
        }
    }
}

/// Why an outbound call is refused. A decision, not a fault: call control answers it with a SIP status
/// (403 for `NotAllowed`, 484 or 404 for `Invalid`) and the app can say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denied {
    #[error("{0} calls are not allowed for this user")]
    NotAllowed(NumberClass),
    #[error("not a number that can be called: {0}")]
    Invalid(InvalidDial),
}

/// Whether `permission` lets the user call `dialled`. Emergency numbers are always allowed.
pub fn check(dialled: &Dialled, permission: &OutboundPermission) -> Result<(), Denied> {
    if let Dialled::Invalid(reason) = dialled {
        return Err(Denied::Invalid(*reason));
    }
    let class = dialled.class();
    if permission.allows(class) {
        Ok(())
    } else {
        Err(Denied::NotAllowed(class))
    }
}
