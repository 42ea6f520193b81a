//! `/cdrs`: call detail records, searched and paged.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Serialize;
use switchboard_schema::{
    CallDirection, Cdr, CdrFilter, HangupSide, QueueOutcome, TargetKind, MAX_CDR_PAGE,
};

use crate::json::{invalid, path_id};
use crate::{ApiError, AppState, ErrorBody};

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: i64 = 50;

/// A call record as the API shows it: the stored JSON columns as JSON, not as strings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CdrView {
    id: i64,
    /// SIP Call-ID of the inbound leg.
    call_id: String,
    direction: CallDirection,
    from_number: String,
    to_number: String,
    /// What the call was routed to.
    target_kind: Option<TargetKind>,
    target_ref: Option<String>,
    /// Unix milliseconds.
    started_at_ms: i64,
    ringing_at_ms: Option<i64>,
    answered_at_ms: Option<i64>,
    /// Null while the call lasts.
    ended_at_ms: Option<i64>,
    /// Username or cellular number.
    answered_by: Option<String>,
    queue_id: Option<i64>,
    queue_wait_ms: Option<i64>,
    /// How the call's stay in the queue ended.
    queue_outcome: Option<QueueOutcome>,
    /// How many times the caller was told their place in the queue (null: no queue).
    queue_announcements: Option<i64>,
    ring_time_ms: i64,
    /// SIP status or reason.
    hangup_cause: Option<String>,
    hangup_side: Option<HangupSide>,
    /// The outbound legs tried, with their outcomes.
    #[schema(value_type = Vec<Object>)]
    legs: serde_json::Value,
    /// Per-leg packet statistics.
    #[schema(value_type = Object)]
    media: serde_json::Value,
}

/// A column the database layer checked to be JSON; if a foreign writer stored something else, show it
/// as a string rather than fail the whole page.
fn json_column(text: String) -> serde_json::Value {
    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
}

impl From<Cdr> for CdrView {
    fn from(c: Cdr) -> Self {
        CdrView {
            id: c.id,
            call_id: c.call_id,
            direction: c.direction,
            from_number: c.from_number,
            to_number: c.to_number,
            target_kind: c.target_kind,
            target_ref: c.target_ref,
            started_at_ms: c.started_at_ms,
            ringing_at_ms: c.ringing_at_ms,
            answered_at_ms: c.answered_at_ms,
            ended_at_ms: c.ended_at_ms,
            answered_by: c.answered_by,
            queue_id: c.queue_id,
            queue_wait_ms: c.queue_wait_ms,
            queue_outcome: c.queue_outcome,
            queue_announcements: c.queue_announcements,
            ring_time_ms: c.ring_time_ms,
            hangup_cause: c.hangup_cause,
            hangup_side: c.hangup_side,
            legs: json_column(c.legs_json),
            media: json_column(c.media_json),
        }
    }
}

/// One page of call records, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CdrList {
    cdrs: Vec<CdrView>,
    /// How many records match the filter in all.
    total: i64,
    limit: i64,
    offset: i64,
}

/// Call records matching every given filter, newest first.
#[utoipa::path(get, operation_id = "list_cdrs", path = "/cdrs", tag = "cdrs",
    params(
        ("from" = Option<String>, Query, description = "Started at or after: unix milliseconds, RFC 3339 (`2025-03-01T08:00:00+01:00`) or a date (`2025-03-01`, midnight UTC)"),
        ("to" = Option<String>, Query, description = "Started before; same forms as `from`"),
        ("number" = Option<String>, Query, description = "Caller, callee or whoever answered is exactly this"),
        ("direction" = Option<CallDirection>, Query, description = "inbound, outbound or internal"),
        ("answered" = Option<bool>, Query, description = "true: answered calls only; false: unanswered only"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 1000 (default 50)"),
        ("offset" = Option<i64>, Query, description = "Records to skip (default 0)"),
    ),
    responses((status = 200, description = "One page", body = CdrList),
              (status = 400, description = "A parameter is wrong or unknown (named in `field`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<CdrList>, ApiError> {
    let Query(params) = query.map_err(|e| invalid("query", e.body_text()))?;
    let filter = parse_filter(&params)?;
    let page = state.db.list_cdrs(&filter).await?;
    Ok(Json(CdrList {
        cdrs: page.cdrs.into_iter().map(CdrView::from).collect(),
        total: page.total,
        limit: filter.limit,
        offset: filter.offset,
    }))
}

/// One call record.
#[utoipa::path(get, operation_id = "get_cdr", path = "/cdrs/{id}", tag = "cdrs",
    params(("id" = i64, Path, description = "The record's id")),
    responses((status = 200, description = "The record", body = CdrView),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such record", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CdrView>, ApiError> {
    let id = path_id(&id)?;
    state
        .db
        .get_cdr(id)
        .await?
        .map(|c| Json(CdrView::from(c)))
        .ok_or_else(|| ApiError::NotFound(format!("no call record {id}")))
}

/// The query parameters as a filter. Unknown or repeated parameters are refused: a misspelt
/// `anwsered=false` silently ignored would show the wrong calls.
fn parse_filter(params: &[(String, String)]) -> Result<CdrFilter, ApiError> {
    let mut filter = CdrFilter {
        limit: DEFAULT_LIMIT,
        ..CdrFilter::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in params {
        if seen.contains(&key.as_str()) {
            return Err(invalid(key, "is given more than once"));
        }
        seen.push(key);
        match key.as_str() {
            "from" => filter.from_ms = Some(parse_time(key, value)?),
            "to" => filter.to_ms = Some(parse_time(key, value)?),
            "number" => {
                if value.is_empty() {
                    return Err(invalid(key, "must not be empty"));
                }
                filter.number = Some(value.clone());
            }
            "direction" => {
                filter.direction = Some(
                    CallDirection::parse(value)
                        .ok_or_else(|| invalid(key, "must be inbound, outbound or internal"))?,
                );
            }
            "answered" => {
                filter.answered = Some(match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid(key, "must be true or false")),
                });
            }
            "limit" => {
                filter.limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_CDR_PAGE).contains(n))
                    .ok_or_else(|| invalid(key, format!("must be between 1 and {MAX_CDR_PAGE}")))?;
            }
            "offset" => {
                filter.offset = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| invalid(key, "must be a whole number, 0 or more"))?;
            }
            _ => {
                return Err(invalid(
                    key,
                    "is not a parameter (from, to, number, direction, answered, limit, offset)",
                ))
            }
        }
    }
    Ok(filter)
}

/// Unix milliseconds, an RFC 3339 time (`2025-03-01T08:00:00Z`, `…+01:00`, fractions allowed) or a
/// date (`2025-03-01`, midnight UTC), as unix milliseconds.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<i64, ApiError> {
    let bad = || {
        invalid(
            field,
            format!(
                "{text:?} is neither unix milliseconds, an RFC 3339 time nor a YYYY-MM-DD date"
            ),
        )
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_err(|_| bad());
    }
    rfc3339_ms(text).ok_or_else(bad)
}

fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn rfc3339_ms(text: &str) -> Option<i64> {
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (year, month, day) = (digits(y)?, digits(m)?, digits(d)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let max_day = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if !(1..=max_day).contains(&day) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let Some(time) = time else {
        return Some(ms);
    };
    // The offset: Z, or ±HH:MM at the end.
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (oh, om) = offset.get(1..)?.split_once(':')?;
        if oh.len() != 2 || om.len() != 2 {
            return None;
        }
        let (oh, om) = (digits(oh)?, digits(om)?);
        if oh > 23 || om > 59 {
            return None;
        }
        (clock, sign * (oh * 3_600_000 + om * 60_000))
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (clock, None),
    };
    let mut hms = hms.split(':');
    let (h, mi, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || mi.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, mi, s) = (digits(h)?, digits(mi)?, digits(s)?);
    // 60 allows a leap second, which RFC 3339 permits; it lands on the next second.
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    ms += h * 3_600_000 + mi * 60_000 + s * 1_000;
    if let Some(fraction) = fraction {
        digits(fraction)?;
        // Milliseconds: the first three digits, padded.
        let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
        ms += digits(&millis)?;
    }
    Some(ms - offset_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("from", "0").ok(), Some(0));
        assert_eq!(
            parse_time("from", "1700000000000").ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(rfc3339_ms("1970-01-01"), Some(0));
        assert_eq!(rfc3339_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            rfc3339_ms("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            rfc3339_ms("2023-11-14T21:13:20.5-01:00"),
            Some(1_700_000_000_500)
        );
        assert_eq!(
            rfc3339_ms("2023-11-14t22:13:20.123456z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(rfc3339_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(rfc3339_ms("2000-03-01"), Some(951_868_800_000));
        for bad in [
            "",
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-1-1",
            "2023-11-14T25:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13Z",
            "2023-11-14T22:13:20+1:00",
            "yesterday",
            "2023-11-14T22:13:20.Z",
            "-1",
        ] {
            assert!(parse_time("from", bad).is_err(), "{bad:?}");
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn field_of(pairs: &[(&str, &str)]) -> String {
        match parse_filter(&params(pairs)) {
            Err(ApiError::Validation { field, .. }) => field,
            other => panic!("{pairs:?}: {other:?}"),
        }
    }

    #[test]
    fn filters() {
        let f = parse_filter(&[]).expect("empty");
        assert_eq!((f.limit, f.offset), (DEFAULT_LIMIT, 0));
        let f = parse_filter(&params(&[
            ("from", "1970-01-02"),
            ("to", "172800000"),
            ("number", "+4764000000"),
            ("direction", "inbound"),
            ("answered", "false"),
            ("limit", "1000"),
            ("offset", "20"),
        ]))
        .expect("all");
        assert_eq!((f.from_ms, f.to_ms), (Some(86_400_000), Some(172_800_000)));
        assert_eq!(f.number.as_deref(), Some("+4764000000"));
        assert_eq!(
            (f.direction, f.answered),
            (Some(CallDirection::Inbound), Some(false))
        );
        assert_eq!((f.limit, f.offset), (1000, 20));

        assert_eq!(field_of(&[("limit", "0")]), "limit");
        assert_eq!(field_of(&[("limit", "1001")]), "limit");
        assert_eq!(field_of(&[("offset", "-1")]), "offset");
        assert_eq!(field_of(&[("answered", "yes")]), "answered");
        assert_eq!(field_of(&[("direction", "up")]), "direction");
        assert_eq!(field_of(&[("anwsered", "false")]), "anwsered");
        assert_eq!(field_of(&[("number", "1"), ("number", "2")]), "number");
        assert_eq!(field_of(&[("from", "soon")]), "from");
    }
}
