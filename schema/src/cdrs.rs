//! Call detail records (`cdrs`): opened when a call starts ([`Db::cdr_open`]), updated when
//! it rings, is answered and ends, and searched by the admin API ([`Db::list_cdrs`]).
//!
//! Call records are not configuration: their writes do not take the configuration lock, so
//! call control never waits for an admin's write.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::config::{check_text, text_enum, TargetKind};
use crate::{Db, SchemaError};

/// Largest `legs_json` / `media_json`: a call with dozens of legs stays far below.
const MAX_JSON_BYTES: usize = 1 << 20;
/// Most records one [`Db::list_cdrs`] page returns.
pub const MAX_CDR_PAGE: i64 = 1000;

text_enum! {
    /// Which way a call went.
    pub enum CallDirection {
        /// From outside (a trunk) in.
        Inbound => "inbound",
        /// From a user out through a trunk.
        Outbound => "outbound",
        /// Between users.
        Internal => "internal",
    }
}

text_enum! {
    /// Who ended a call.
    pub enum HangupSide {
        /// The calling party.
        Caller => "caller",
        /// The called party.
        Callee => "callee",
        /// Switchboard itself (timeout, error, shutdown).
        System => "system",
    }
}

text_enum! {
    /// How a call's stay in a queue ended.
    pub enum QueueOutcome {
        /// An agent answered.
        Answered => "answered",
        /// The caller hung up while waiting.
        Abandoned => "abandoned",
        /// Sent on: the queue was full, the wait too long, nobody logged in, or the queue removed.
        Overflow => "overflow",
        /// The caller booked a callback and hung up.
        Callback => "callback",
    }
}

/// What is known when a call starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrOpen {
    /// SIP Call-ID of the inbound leg.
    pub call_id: String,
    /// Which way the call goes.
    pub direction: CallDirection,
    /// Caller's number as presented (may be "anonymous").
    pub from_number: String,
    /// Called number.
    pub to_number: String,
    /// What the call was routed to, if decided yet; both or neither.
    pub target_kind: Option<TargetKind>,
    /// Which target.
    pub target_ref: Option<String>,
    /// Unix milliseconds.
    pub started_at_ms: i64,
}

/// What is known when a call is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrAnswer {
    /// Unix milliseconds; not before the start.
    pub answered_at_ms: i64,
    /// The username, or the cellular number, that answered.
    pub answered_by: String,
    /// How long it rang before the answer, milliseconds.
    pub ring_time_ms: i64,
    /// The queue the call waited in, if any (kept if `None`).
    pub queue_id: Option<i64>,
    /// How long it waited there, milliseconds (kept if `None`).
    pub queue_wait_ms: Option<i64>,
}

/// What is known when a call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrClose {
    /// Unix milliseconds; not before the start.
    pub ended_at_ms: i64,
    /// SIP status (`"486"`) or reason text (`"caller hung up"`).
    pub hangup_cause: String,
    /// Who ended it.
    pub hangup_side: HangupSide,
    /// Total ring time, milliseconds (kept if `None`, e.g. set at answer).
    pub ring_time_ms: Option<i64>,
    /// The queue the call waited in (kept if `None`).
    pub queue_id: Option<i64>,
    /// How long it waited there (kept if `None`), e.g. for an abandoned call.
    pub queue_wait_ms: Option<i64>,
    /// How its stay in the queue ended (kept if `None`).
    pub queue_outcome: Option<QueueOutcome>,
    /// How many times the caller was told their place in the queue (kept if `None`).
    pub queue_announcements: Option<i64>,
    /// JSON: the outbound legs tried, with their outcomes.
    pub legs_json: String,
    /// JSON: per-leg packet statistics.
    pub media_json: String,
}

/// A stored call record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cdr {
    /// Database id.
    pub id: i64,
    /// SIP Call-ID of the inbound leg.
    pub call_id: String,
    /// Which way.
    pub direction: CallDirection,
    /// Caller's number.
    pub from_number: String,
    /// Called number.
    pub to_number: String,
    /// Routed to (kind).
    pub target_kind: Option<TargetKind>,
    /// Routed to (which).
    pub target_ref: Option<String>,
    /// Unix ms.
    pub started_at_ms: i64,
    /// Unix ms of the first ringing, if any.
    pub ringing_at_ms: Option<i64>,
    /// Unix ms of the answer, if answered.
    pub answered_at_ms: Option<i64>,
    /// Unix ms of the end, `None` while the call lasts.
    pub ended_at_ms: Option<i64>,
    /// Username or cellular number that answered.
    pub answered_by: Option<String>,
    /// Queue, if the call waited in one.
    pub queue_id: Option<i64>,
    /// Time in the queue, ms.
    pub queue_wait_ms: Option<i64>,
    /// How its stay in the queue ended.
    pub queue_outcome: Option<QueueOutcome>,
    /// How many times the caller was told their place in the queue.
    pub queue_announcements: Option<i64>,
    /// Ring time, ms.
    pub ring_time_ms: i64,
    /// SIP status or reason, once ended.
    pub hangup_cause: Option<String>,
    /// Who ended it.
    pub hangup_side: Option<HangupSide>,
    /// JSON text: legs tried.
    pub legs_json: String,
    /// JSON text: media statistics.
    pub media_json: String,
}

/// A staff member whose own calls are asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Involving {
    /// Their extension: the caller of their outbound calls, who answered, a branch target.
    pub username: String,
    /// Their direct number, where citizens call them.
    pub direct_number: Option<String>,
}

/// The pattern that finds `username` as a branch target in `legs_json` (`"target":"1003"`, as serde
/// writes it), with LIKE's wildcards in the name escaped.
fn target_pattern(username: &str) -> String {
    let mut escaped = String::with_capacity(username.len() + 16);
    for c in username.chars() {
        if matches!(c, '%' | '_' | '\\' | '"') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("%\"target\":\"{escaped}\"%")
}

/// Which records [`Db::list_cdrs`] returns. All conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrFilter {
    /// Started at or after (unix ms).
    pub from_ms: Option<i64>,
    /// Started before (unix ms).
    pub to_ms: Option<i64>,
    /// The caller's number, the called number or who answered is exactly this.
    pub number: Option<String>,
    /// Only this direction.
    pub direction: Option<CallDirection>,
    /// Only answered (`true`) or only unanswered (`false`) calls.
    pub answered: Option<bool>,
    /// Only calls this staff member placed, answered or was rung for (a user's own history).
    pub involving: Option<Involving>,
    /// Page size, 1 to [`MAX_CDR_PAGE`].
    pub limit: i64,
    /// Records to skip, newest first.
    pub offset: i64,
}

impl Default for CdrFilter {
    fn default() -> Self {
        CdrFilter {
            from_ms: None,
            to_ms: None,
            number: None,
            direction: None,
            answered: None,
            involving: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// One page of [`Db::list_cdrs`], newest first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CdrPage {
    /// The records.
    pub cdrs: Vec<Cdr>,
    /// How many records match the filter, ignoring limit and offset.
    pub total: i64,
}

const CDR_COLUMNS: &str = "id, call_id, direction, from_number, to_number, target_kind, \
     target_ref, started_at_ms, ringing_at_ms, answered_at_ms, ended_at_ms, answered_by, \
     queue_id, queue_wait_ms, queue_outcome, queue_announcements, ring_time_ms, hangup_cause, hangup_side, legs_json, \
     media_json";

fn cdr_from_row(row: &AnyRow) -> Result<Cdr, sqlx::Error> {
    let target_kind: Option<String> = row.try_get("target_kind")?;
    let hangup_side: Option<String> = row.try_get("hangup_side")?;
    Ok(Cdr {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        direction: CallDirection::from_db(row.try_get::<String, _>("direction")?.as_str())?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        target_kind: target_kind
            .as_deref()
            .map(TargetKind::from_db)
            .transpose()?,
        target_ref: row.try_get("target_ref")?,
        started_at_ms: row.try_get("started_at_ms")?,
        ringing_at_ms: row.try_get("ringing_at_ms")?,
        answered_at_ms: row.try_get("answered_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        answered_by: row.try_get("answered_by")?,
        queue_id: row.try_get("queue_id")?,
        queue_wait_ms: row.try_get("queue_wait_ms")?,
        queue_outcome: row
            .try_get::<Option<String>, _>("queue_outcome")?
            .as_deref()
            .map(QueueOutcome::from_db)
            .transpose()?,
        queue_announcements: row.try_get("queue_announcements")?,
        ring_time_ms: row.try_get("ring_time_ms")?,
        hangup_cause: row.try_get("hangup_cause")?,
        hangup_side: hangup_side
            .as_deref()
            .map(HangupSide::from_db)
            .transpose()?,
        legs_json: row.try_get("legs_json")?,
        media_json: row.try_get("media_json")?,
    })
}

fn check_non_negative(field: &str, value: Option<i64>) -> Result<(), SchemaError> {
    match value {
        Some(v) if v < 0 => Err(SchemaError::invalid(field, "must not be negative")),
        _ => Ok(()),
    }
}

fn check_json(field: &str, text: &str) -> Result<(), SchemaError> {
    if text.len() > MAX_JSON_BYTES {
        return Err(SchemaError::invalid(
            field,
            format!("must be at most {MAX_JSON_BYTES} bytes"),
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| SchemaError::invalid(field, format!("is not JSON: {e}")))
}

/// A bind value of the generated filter statement.
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

impl Db {
    /// Opens a record for a call that starts now. Returns its id, for the updates.
    pub async fn cdr_open(&self, open: &CdrOpen) -> Result<i64, SchemaError> {
        check_text("call_id", &open.call_id, 256)?;
        if open.call_id.is_empty() {
            return Err(SchemaError::invalid("call_id", "must not be empty"));
        }
        check_text("from_number", &open.from_number, 128)?;
        check_text("to_number", &open.to_number, 128)?;
        if open.target_kind.is_some() != open.target_ref.is_some() {
            return Err(SchemaError::invalid(
                "target_ref",
                "target_kind and target_ref go together",
            ));
        }
        if let Some(reference) = &open.target_ref {
            check_text("target_ref", reference, 128)?;
        }
        check_non_negative("started_at_ms", Some(open.started_at_ms))?;
        Ok(sqlx::query_scalar::<_, i64>(
            "INSERT INTO cdrs (call_id, direction, from_number, to_number, target_kind, \
             target_ref, started_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(open.call_id.as_str())
        .bind(open.direction.as_str())
        .bind(open.from_number.as_str())
        .bind(open.to_number.as_str())
        .bind(open.target_kind.map(TargetKind::as_str))
        .bind(open.target_ref.as_deref())
        .bind(open.started_at_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Notes when the call first rang; later calls keep the first time.
    pub async fn cdr_ringing(&self, id: i64, ringing_at_ms: i64) -> Result<(), SchemaError> {
        let updated = sqlx::query(
            "UPDATE cdrs SET ringing_at_ms = COALESCE(ringing_at_ms, $2) \
             WHERE id = $1 AND ended_at_ms IS NULL AND $2 >= started_at_ms",
        )
        .bind(id)
        .bind(ringing_at_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(self
                .why_not_updated(id, "ringing_at_ms", ringing_at_ms)
                .await);
        }
        Ok(())
    }

    /// Records the answer. Fails with [`SchemaError::NotFound`] for an unknown id,
    /// [`SchemaError::Conflict`] if the call was already answered or has ended, and
    /// [`SchemaError::Invalid`] for an answer before the start.
    pub async fn cdr_answered(&self, id: i64, answer: &CdrAnswer) -> Result<(), SchemaError> {
        check_text("answered_by", &answer.answered_by, 128)?;
        check_non_negative("ring_time_ms", Some(answer.ring_time_ms))?;
        check_non_negative("queue_wait_ms", answer.queue_wait_ms)?;
        let updated = sqlx::query(
            "UPDATE cdrs SET answered_at_ms = $2, answered_by = $3, ring_time_ms = $4, \
             queue_id = COALESCE($5, queue_id), queue_wait_ms = COALESCE($6, queue_wait_ms) \
             WHERE id = $1 AND answered_at_ms IS NULL AND ended_at_ms IS NULL \
             AND $2 >= started_at_ms",
        )
        .bind(id)
        .bind(answer.answered_at_ms)
        .bind(answer.answered_by.as_str())
        .bind(answer.ring_time_ms)
        .bind(answer.queue_id)
        .bind(answer.queue_wait_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(self
                .why_not_updated(id, "answered_at_ms", answer.answered_at_ms)
                .await);
        }
        Ok(())
    }

    /// Closes the record. Fails with [`SchemaError::NotFound`] for an unknown id,
    /// [`SchemaError::Conflict`] if it was closed already, and [`SchemaError::Invalid`] for
    /// an end before the start or JSON fields that are not JSON.
    pub async fn cdr_closed(&self, id: i64, close: &CdrClose) -> Result<(), SchemaError> {
        check_text("hangup_cause", &close.hangup_cause, 256)?;
        check_non_negative("ring_time_ms", close.ring_time_ms)?;
        check_non_negative("queue_wait_ms", close.queue_wait_ms)?;
        check_non_negative("queue_announcements", close.queue_announcements)?;
        check_json("legs_json", &close.legs_json)?;
        check_json("media_json", &close.media_json)?;
        let updated = sqlx::query(
            "UPDATE cdrs SET ended_at_ms = $2, hangup_cause = $3, hangup_side = $4, \
             ring_time_ms = COALESCE($5, ring_time_ms), queue_id = COALESCE($6, queue_id), \
             queue_wait_ms = COALESCE($7, queue_wait_ms), legs_json = $8, media_json = $9, \
             queue_outcome = COALESCE($10, queue_outcome), \
             queue_announcements = COALESCE($11, queue_announcements) \
             WHERE id = $1 AND ended_at_ms IS NULL AND $2 >= started_at_ms",
        )
        .bind(id)
        .bind(close.ended_at_ms)
        .bind(close.hangup_cause.as_str())
        .bind(close.hangup_side.as_str())
        .bind(close.ring_time_ms)
        .bind(close.queue_id)
        .bind(close.queue_wait_ms)
        .bind(close.legs_json.as_str())
        .bind(close.media_json.as_str())
        .bind(close.queue_outcome.map(QueueOutcome::as_str))
        .bind(close.queue_announcements)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(self
                .why_not_updated(id, "ended_at_ms", close.ended_at_ms)
                .await);
        }
        Ok(())
    }

    /// Explains why an update of record `id` changed no row.
    async fn why_not_updated(&self, id: i64, field: &str, at_ms: i64) -> SchemaError {
        let state = sqlx::query_as::<_, (i64, Option<i64>, Option<i64>)>(
            "SELECT started_at_ms, answered_at_ms, ended_at_ms FROM cdrs WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await;
        match state {
            Err(err) => err.into(),
            Ok(None) => SchemaError::NotFound(format!("call record {id}")),
            Ok(Some((started, _, _))) if at_ms < started => SchemaError::invalid(
                field,
                format!("{at_ms} is before the call started ({started})"),
            ),
            Ok(Some((_, _, Some(_)))) => {
                SchemaError::Conflict(format!("call record {id} is closed already"))
            }
            Ok(Some((_, Some(_), None))) => {
                SchemaError::Conflict(format!("call record {id} is answered already"))
            }
            // The row changed between the update and this look: report it as a conflict.
            Ok(Some(_)) => SchemaError::Conflict(format!("call record {id} changed meanwhile")),
        }
    }

    /// The record, if it exists.
    pub async fn get_cdr(&self, id: i64) -> Result<Option<Cdr>, SchemaError> {
        let row = sqlx::query(&format!("SELECT {CDR_COLUMNS} FROM cdrs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(cdr_from_row).transpose()?)
    }

    /// The records matching `filter`, newest first, and how many match in all.
    pub async fn list_cdrs(&self, filter: &CdrFilter) -> Result<CdrPage, SchemaError> {
        if !(1..=MAX_CDR_PAGE).contains(&filter.limit) {
            return Err(SchemaError::invalid(
                "limit",
                format!("must be between 1 and {MAX_CDR_PAGE}"),
            ));
        }
        if filter.offset < 0 {
            return Err(SchemaError::invalid("offset", "must not be negative"));
        }
        if let (Some(from), Some(to)) = (filter.from_ms, filter.to_ms) {
            if to < from {
                return Err(SchemaError::invalid("to", "is before from"));
            }
        }
        // The WHERE clause is built from fixed fragments; only placeholders carry values.
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Bind<'_>> = Vec::new();
        if let Some(from) = filter.from_ms {
            binds.push(Bind::Int(from));
            clauses.push(format!("started_at_ms >= ${}", binds.len()));
        }
        if let Some(to) = filter.to_ms {
            binds.push(Bind::Int(to));
            clauses.push(format!("started_at_ms < ${}", binds.len()));
        }
        if let Some(number) = &filter.number {
            // Three placeholders rather than one reused: the same $N three times is fine on
            // PostgreSQL, but keeping one value per placeholder avoids relying on it in SQLite.
            let n = binds.len();
            binds.extend([Bind::Text(number), Bind::Text(number), Bind::Text(number)]);
            clauses.push(format!(
                "(from_number = ${} OR to_number = ${} OR answered_by = ${})",
                n + 1,
                n + 2,
                n + 3
            ));
        }
        if let Some(direction) = filter.direction {
            binds.push(Bind::Text(direction.as_str()));
            clauses.push(format!("direction = ${}", binds.len()));
        }
        let pattern = filter
            .involving
            .as_ref()
            .map(|i| target_pattern(&i.username));
        if let (Some(who), Some(pattern)) = (&filter.involving, &pattern) {
            let n = binds.len();
            binds.extend([
                Bind::Text(&who.username),
                Bind::Text(&who.username),
                Bind::Text(&who.username),
                Bind::Text(who.direct_number.as_deref().unwrap_or("")),
                Bind::Text(pattern),
            ]);
            clauses.push(format!(
                "(from_number = ${} OR to_number = ${} OR answered_by = ${} OR to_number = ${} \
                 OR legs_json LIKE ${} ESCAPE '\\')",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            ));
        }
        match filter.answered {
            Some(true) => clauses.push("answered_at_ms IS NOT NULL".to_owned()),
            Some(false) => clauses.push("answered_at_ms IS NULL".to_owned()),
            None => {}
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };

        let count_sql = format!("SELECT COUNT(*) FROM cdrs{where_sql}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for bind in &binds {
            count = match bind {
                Bind::Int(v) => count.bind(*v),
                Bind::Text(v) => count.bind(*v),
            };
        }
        let total = count.fetch_one(&self.pool).await?;

        let page_sql = format!(
            "SELECT {CDR_COLUMNS} FROM cdrs{where_sql} ORDER BY started_at_ms DESC, id DESC \
             LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2
        );
        let mut page = sqlx::query(&page_sql);
        for bind in &binds {
            page = match bind {
                Bind::Int(v) => page.bind(*v),
                Bind::Text(v) => page.bind(*v),
            };
        }
        let rows = page
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(CdrPage {
            cdrs: rows.iter().map(cdr_from_row).collect::<Result<_, _>>()?,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_spelling_matches_serde() {
        for v in CallDirection::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
        for v in HangupSide::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
    }

    #[test]
    fn json_fields_must_be_json() {
        assert!(check_json("legs_json", "[]").is_ok());
        assert!(check_json("legs_json", r#"[{"to": "1003", "outcome": "busy"}]"#).is_ok());
        assert!(check_json("legs_json", "").is_err());
        assert!(check_json("legs_json", "[").is_err());
    }
}
