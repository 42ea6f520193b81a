//! Opening hours (`schedules`): the routing crate's [`Schedule`] in its JSON form, and the
//! receptionist's emergency [`Override`].
//!
//! Both are validated by parsing them with routing's types (the API deserialises straight into them) and
//! stored as routing writes them. Call control reads the override on every call, so setting or clearing
//! one takes effect on the next call.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use switchboard_routing::menu::parse_target;
use switchboard_routing::numbers::Target;
use switchboard_routing::schedule::{Override, Schedule};

use crate::config::{check_name, TargetKind, MAX_NAME_CHARS};
use crate::queues::check_target_exists;
use crate::{unix_now, Db, SchemaError};

/// A schedule as an admin writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntrySpec {
    /// Unique name, e.g. "Rådhuset".
    pub name: String,
    /// The hours: `{"weekly": {"mon": [{"from": "08:00", "to": "15:30"}], …}, "exceptions": [{"date":
    /// "--12-24"}], "closed_on_public_holidays": true}` (Europe/Oslo time).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schedule: Schedule,
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleEntry {
    /// Database id; public numbers refer to it as `schedule_id`.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The hours, in routing's JSON form.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schedule: Schedule,
    /// The active emergency override, `{"closed_with_message": …}` or `{"route_to": "queue:7"}`; null
    /// when the hours apply.
    #[serde(rename = "override")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub emergency_override: Option<Override>,
    /// When it was created, unix seconds.
    pub created_at: i64,
}

const SCHEDULE_COLUMNS: &str = "id, name, json, override_json, created_at";

fn decode_error(what: &str, e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what} in the database does not parse: {e}").into())
}

fn schedule_from_row(row: &AnyRow) -> Result<ScheduleEntry, sqlx::Error> {
    let json: String = row.try_get("json")?;
    let override_json: Option<String> = row.try_get("override_json")?;
    Ok(ScheduleEntry {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        schedule: serde_json::from_str(&json).map_err(|e| decode_error("schedule", e))?,
        emergency_override: override_json
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| decode_error("schedule override", e))?,
        created_at: row.try_get("created_at")?,
    })
}

fn to_json<T: Serialize>(value: &T, field: &str) -> Result<String, SchemaError> {
    serde_json::to_string(value)
        .map_err(|e| SchemaError::invalid(field, format!("cannot be stored: {e}")))
}

fn name_conflict(err: sqlx::Error, name: &str) -> SchemaError {
    if SchemaError::is_unique_violation(&err) {
        SchemaError::Conflict(format!("a schedule named {name:?} already exists"))
    } else {
        err.into()
    }
}

/// Checks an override's target: written as menus write targets (`queue:7`), and existing.
async fn check_override(
    tx: &mut Transaction<'static, Any>,
    value: &Override,
) -> Result<(), SchemaError> {
    value
        .validate()
        .map_err(|e| SchemaError::invalid("override", e.to_string()))?;
    let Override::RouteTo(text) = value else {
        return Ok(());
    };
    let target = parse_target(text).ok_or_else(|| {
        SchemaError::invalid(
            "route_to",
            format!(
                "{text:?} is not a target (queue:ID, hunt_group:ID, user:NAME, menu:ID, trunk:ID \
                 or message:PROMPT)"
            ),
        )
    })?;
    let (kind, reference) = match target {
        Target::User(name) => (TargetKind::User, name),
        Target::HuntGroup(id) => (TargetKind::HuntGroup, id.to_string()),
        Target::Queue(id) => (TargetKind::Queue, id.to_string()),
        Target::Menu(id) => (TargetKind::Menu, id.to_string()),
        Target::Message(name) => (TargetKind::Message, name),
        Target::Trunk(id) => {
            let id = i64::try_from(id).unwrap_or(i64::MAX);
            let found = sqlx::query_scalar::<_, i64>("SELECT id FROM trunks WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
            return match found {
                Some(_) => Ok(()),
                None => Err(SchemaError::invalid(
                    "route_to",
                    format!("there is no trunk {id}"),
                )),
            };
        }
    };
    check_target_exists(tx, "route_to", kind, &reference, None).await
}

impl Db {
    /// All schedules, ordered by name.
    pub async fn list_schedules(&self) -> Result<Vec<ScheduleEntry>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(schedule_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The schedule, if it exists.
    pub async fn get_schedule(&self, id: i64) -> Result<Option<ScheduleEntry>, SchemaError> {
        let row = sqlx::query(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(schedule_from_row).transpose()?)
    }

    /// Creates a schedule without an override.
    ///
    /// Fails with [`SchemaError::Invalid`] for a bad name and [`SchemaError::Conflict`] if it is taken.
    pub async fn create_schedule(
        &self,
        spec: &ScheduleEntrySpec,
    ) -> Result<ScheduleEntry, SchemaError> {
        check_name("name", &spec.name, MAX_NAME_CHARS)?;
        let json = to_json(&spec.schedule, "schedule")?;
        let mut tx = self.begin_config_write().await?;
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO schedules (name, json, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(spec.name.as_str())
        .bind(json.as_str())
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?;
        let stored = schedule_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "schedule created");
        Ok(stored)
    }

    /// Replaces a schedule's name and hours; an active override stays.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown id and otherwise as [`Db::create_schedule`].
    pub async fn update_schedule(
        &self,
        id: i64,
        spec: &ScheduleEntrySpec,
    ) -> Result<ScheduleEntry, SchemaError> {
        check_name("name", &spec.name, MAX_NAME_CHARS)?;
        let json = to_json(&spec.schedule, "schedule")?;
        let mut tx = self.begin_config_write().await?;
        let updated = sqlx::query("UPDATE schedules SET name = $2, json = $3 WHERE id = $1")
            .bind(id)
            .bind(spec.name.as_str())
            .bind(json.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|err| name_conflict(err, &spec.name))?
            .rows_affected();
        if updated == 0 {
            return Err(SchemaError::NotFound(format!("schedule {id}")));
        }
        let stored = schedule_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "schedule changed");
        Ok(stored)
    }

    /// Sets (`Some`) or clears (`None`) the schedule's emergency override.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown schedule and [`SchemaError::Invalid`] (field
    /// `route_to`) for a redirect target that is not written `kind:ref` or does not exist.
    pub async fn set_schedule_override(
        &self,
        id: i64,
        value: Option<&Override>,
    ) -> Result<ScheduleEntry, SchemaError> {
        let json = value.map(|v| to_json(v, "override")).transpose()?;
        let mut tx = self.begin_config_write().await?;
        if let Some(value) = value {
            check_override(&mut tx, value).await?;
        }
        let updated = sqlx::query("UPDATE schedules SET override_json = $2 WHERE id = $1")
            .bind(id)
            .bind(json.as_deref())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(SchemaError::NotFound(format!("schedule {id}")));
        }
        let stored = schedule_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, active = value.is_some(), "schedule override changed");
        Ok(stored)
    }

    /// Deletes a schedule. Returns whether it existed.
    ///
    /// Fails with [`SchemaError::InUse`] while a public number, a queue or a menu follows it.
    pub async fn delete_schedule(&self, id: i64) -> Result<bool, SchemaError> {
        let mut tx = self.begin_config_write().await?;
        let users = sqlx::query_scalar::<_, String>(
            "SELECT number FROM public_numbers WHERE schedule_id = $1 ORDER BY number",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let queues = sqlx::query_scalar::<_, String>(
            "SELECT name FROM queues WHERE schedule_id = $1 ORDER BY name",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let menus: Vec<String> = crate::menus::menus_in(&mut tx)
            .await?
            .into_iter()
            .filter(|m| m.config.schedule_id == u64::try_from(id).ok())
            .map(|m| m.name)
            .collect();
        let mut users: Vec<String> = users
            .into_iter()
            .map(|n| format!("public number {n}"))
            .collect();
        users.extend(queues.into_iter().map(|q| format!("queue {q:?}")));
        users.extend(menus.into_iter().map(|m| format!("menu {m:?}")));
        if !users.is_empty() {
            tx.rollback().await?;
            return Err(SchemaError::InUse(format!(
                "schedule {id} still sets the hours of {}",
                users.join(", ")
            )));
        }
        let removed = sqlx::query("DELETE FROM schedules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        if removed {
            tracing::info!(id, "schedule deleted");
        }
        Ok(removed)
    }
}

async fn schedule_in(
    tx: &mut Transaction<'static, Any>,
    id: i64,
) -> Result<ScheduleEntry, SchemaError> {
    let row = sqlx::query(&format!(
        "SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(schedule_from_row(&row)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spec_parses_through_routing() {
        let spec: ScheduleEntrySpec = serde_json::from_value(json!({
            "name": "Rådhuset",
            "schedule": { "weekly": { "mon": [{ "from": "08:00", "to": "15:30" }] } }
        }))
        .expect("valid");
        assert!(spec.schedule.closed_on_holidays());
        let bad = serde_json::from_value::<ScheduleEntrySpec>(json!({
            "name": "x", "schedule": { "weekly": { "mon": [{ "from": "25:00", "to": "26:00" }] } }
        }));
        assert!(bad.is_err());
        let entry = ScheduleEntry {
            id: 1,
            name: "x".into(),
            schedule: spec.schedule,
            emergency_override: Some(Override::RouteTo("queue:1".into())),
            created_at: 0,
        };
        let value = serde_json::to_value(&entry).expect("ser");
        assert_eq!(value["override"], json!({ "route_to": "queue:1" }));
    }
}
