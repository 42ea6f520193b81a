//! The national numbering plan as data: which ranges exist, how long their numbers are, what they cost.

use super::NumberClass;

/// One row of a national numbering plan: national numbers of exactly `len` digits that begin with `prefix`
/// are of `class`. Among the rows that fit a number, the longest prefix wins, so a narrow row (`820`) carves
/// its range out of a wide one (`8`), and a row of class [`NumberClass::Invalid`] punches a hole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NationalRange {
    pub prefix: &'static str,
    pub len: usize,
    pub class: NumberClass,
    /// Where the row comes from, for whoever adjusts the table next.
    pub note: &'static str,
}

/// A country's numbering plan, as far as call routing needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NationalPlan {
    /// Country code without `+`: `"47"`.
    pub country_code: &'static str,
    /// Emergency numbers. They are matched before extensions and the table, and are always allowed.
    pub emergency: &'static [&'static str],
    /// National numbers at least this long are public E.164 numbers; shorter ones are short numbers that
    /// only exist inside the country and go to the trunk as dialled.
    pub e164_min_len: usize,
    pub ranges: &'static [NationalRange],
}

impl NationalPlan {
    /// The row that classifies a national number (digits only, no prefix), unless the plan has no such
    /// number.
    pub fn range(&self, national: &str) -> Option<&NationalRange> {
        let row = self
            .ranges
            .iter()
            .filter(|r| r.len == national.len() && national.starts_with(r.prefix))
            .max_by_key(|r| r.prefix.len())?;
        (row.class != NumberClass::Invalid).then_some(row)
    }

    /// The row of a national number that can be written in E.164 form.
    pub(crate) fn public_range(&self, national: &str) -> Option<&NationalRange> {
        self.range(national).filter(|r| r.len >= self.e164_min_len)
    }
}

const fn row(
    prefix: &'static str,
    len: usize,
    class: NumberClass,
    note: &'static str,
) -> NationalRange {
    NationalRange {
        prefix,
        len,
        class,
        note,
    }
}

use NumberClass::{Invalid, NationalGeographic, NationalMobile, NationalSpecial, Premium};

/// Norway (+47).
///
/// Ranges from Nkom, "Alle nummerserier for norske telefonnumre"
/// (<https://nkom.no/telefoni-og-telefonnummer/telefonnummer-og-den-norske-nummerplan/alle-nummerserier-for-norske-telefonnumre>),
/// the meaning of the 8xx series from Nkom, "Om spesialnummer"
/// (<https://www.nkom.no/marked/nummerforvaltning/nummer/om-spesialnummer>). Under Nkom's common-pricing
/// rule ("felles taksering") calls to 810, 815, 85x and to 3- and 5-digit numbers may not be billed above an
/// ordinary call; 820 and 829 are still billed for content, so only those are premium.
pub const NORWAY: NationalPlan = NationalPlan {
    country_code: "47",
    emergency: &["110", "112", "113"],
    e164_min_len: 8,
    ranges: NORWAY_RANGES,
};

const NORWAY_RANGES: &[NationalRange] = &[
    // 110/112/113 fall in this row too, but emergency numbers are matched before the table.
    row(
        "1",
        3,
        NationalSpecial,
        "100–115, 117–179 standardised special numbers; 190–199 provider-specific",
    ),
    row("116", 3, Invalid, "116 only begins the 6-digit series"),
    row(
        "116",
        6,
        NationalSpecial,
        "116 000–116 999 EEA-harmonised numbers (116 117 legevakt)",
    ),
    // Nkom calls these directory enquiries; we class them premium because operators charge a per-call fee
    // plus a per-minute price many times a normal call (Telenor: 13.99 + 24.99 NOK/min for 1881).
    row("18", 4, Premium, "1800–1899 directory enquiries"),
    row(
        "0",
        5,
        NationalSpecial,
        "02000–09999 five-digit special numbers",
    ),
    row("00", 5, Invalid, "00 is the international prefix"),
    row(
        "01",
        5,
        Invalid,
        "01 reserved for future changes to the plan",
    ),
    row("2", 8, NationalGeographic, "20–39 fixed network"),
    row("3", 8, NationalGeographic, "20–39 fixed network"),
    row("4", 8, NationalMobile, "40–49 mobile"),
    row("5", 8, NationalGeographic, "50–57 fixed network"),
    row("58", 8, Invalid, "58 numbers have 12 digits"),
    row(
        "58",
        12,
        NationalMobile,
        "58 12-digit machine-to-machine / IoT",
    ),
    row(
        "59",
        8,
        NationalMobile,
        "59 8-digit machine-to-machine / IoT",
    ),
    row("6", 8, NationalGeographic, "60–79 fixed network"),
    row("7", 8, NationalGeographic, "60–79 fixed network"),
    row(
        "8",
        8,
        NationalSpecial,
        "800–899 special numbers: 800 freephone, 810 shared cost, 815 and 85x normal rate",
    ),
    row(
        "820",
        8,
        Premium,
        "820 premium rate (fellesfakturert), information and advice",
    ),
    row(
        "829",
        8,
        Premium,
        "829 premium rate (fellesfakturert), entertainment",
    ),
    row("9", 8, NationalMobile, "90–99 mobile"),
];
