//! Public numbers (`public_numbers`): the inbound numbers and where each routes.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::config::{check_e164, check_target, check_text, TargetKind, MAX_LABEL_CHARS};

/// The highest queue priority a public number may give its callers.
pub const MAX_PRIORITY: i64 = 9;
use crate::queues::{check_pair, check_target_exists};
use crate::{unix_now, Db, SchemaError};

/// Where a public number routes, as an admin writes it: everything but the number itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublicNumberSpec {
    /// What people call it, e.g. "Sentralbord"; may be empty.
    #[serde(default)]
    pub label: String,
    /// What kind of thing the number routes to.
    pub target_kind: TargetKind,
    /// Which one: a username, a hunt group id, a queue id, a menu id or a prompt name.
    pub target_ref: String,
    /// Callers of this number join queues with this priority: 0 (normal) to 9, higher served first
    /// (e.g. a number given to doctors and emergency services).
    #[serde(default)]
    pub priority: i64,
}

/// A stored public number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublicNumber {
    /// The number in E.164, e.g. `+4764000000`.
    pub number: String,
    /// What people call it.
    pub label: String,
    /// What kind of thing it routes to.
    pub target_kind: TargetKind,
    /// Which one.
    pub target_ref: String,
    /// The queue priority its callers get (0–9, higher first).
    pub priority: i64,
    /// The opening hours the number follows; null: always open.
    pub schedule_id: Option<i64>,
    /// Where calls go outside the hours; with `closed_ref`. Both null: the `closed` prompt, then
    /// hang up.
    pub closed_kind: Option<TargetKind>,
    /// Which target of `closed_kind`.
    pub closed_ref: Option<String>,
    /// When it was added, unix seconds.
    pub created_at: i64,
}

/// A public number's opening hours: which schedule it follows and where calls go when it is closed.
/// The default is "always open".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NumberHours {
    /// A schedule's id; null: always open.
    #[serde(default)]
    pub schedule_id: Option<i64>,
    /// Where calls go outside the hours; with `closed_ref`. Both null: the `closed` prompt, then hang up.
    #[serde(default)]
    pub closed_kind: Option<TargetKind>,
    /// Which target of `closed_kind`.
    #[serde(default)]
    pub closed_ref: Option<String>,
}

impl NumberHours {
    pub(crate) fn validate(&self) -> Result<(), SchemaError> {
        check_pair(
            ("closed_kind", self.closed_kind),
            ("closed_ref", self.closed_ref.as_deref()),
        )?;
        if self.schedule_id.is_none() && self.closed_kind.is_some() {
            return Err(SchemaError::invalid(
                "schedule_id",
                "is required with a closed target (without a schedule the number is never closed)",
            ));
        }
        Ok(())
    }

    /// Checks that the schedule and the closed target exist, inside the write's transaction.
    pub(crate) async fn check_refs(
        &self,
        tx: &mut Transaction<'static, Any>,
    ) -> Result<(), SchemaError> {
        if let Some(id) = self.schedule_id {
            let found = sqlx::query_scalar::<_, i64>("SELECT id FROM schedules WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
            if found.is_none() {
                return Err(SchemaError::invalid(
                    "schedule_id",
                    format!("there is no schedule {id}"),
                ));
            }
        }
        if let (Some(kind), Some(reference)) = (self.closed_kind, &self.closed_ref) {
            check_target_exists(tx, "closed_ref", kind, reference, None).await?;
        }
        Ok(())
    }
}

const NUMBER_COLUMNS: &str = "number, label, target_kind, target_ref, priority, schedule_id, \
     closed_kind, closed_ref, created_at";

fn number_from_row(row: &AnyRow) -> Result<PublicNumber, sqlx::Error> {
    Ok(PublicNumber {
        number: row.try_get("number")?,
        label: row.try_get("label")?,
        target_kind: TargetKind::from_db(row.try_get::<String, _>("target_kind")?.as_str())?,
        target_ref: row.try_get("target_ref")?,
        priority: row.try_get("priority")?,
        schedule_id: row.try_get("schedule_id")?,
        closed_kind: row
            .try_get::<Option<String>, _>("closed_kind")?
            .as_deref()
            .map(TargetKind::from_db)
            .transpose()?,
        closed_ref: row.try_get("closed_ref")?,
        created_at: row.try_get("created_at")?,
    })
}

impl PublicNumberSpec {
    fn validate(&self) -> Result<(), SchemaError> {
        check_text("label", &self.label, MAX_LABEL_CHARS)?;
        if !(0..=MAX_PRIORITY).contains(&self.priority) {
            return Err(SchemaError::invalid(
                "priority",
                "must be between 0 (normal) and 9",
            ));
        }
        Ok(())
    }
}

impl Db {
    /// All public numbers, ordered by number.
    pub async fn list_public_numbers(&self) -> Result<Vec<PublicNumber>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM public_numbers ORDER BY number"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(number_from_row).collect::<Result<_, _>>()?)
    }

    /// The public number, if it exists.
    pub async fn get_public_number(
        &self,
        number: &str,
    ) -> Result<Option<PublicNumber>, SchemaError> {
        let row = sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM public_numbers WHERE number = $1"
        ))
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(number_from_row).transpose()?)
    }

    /// Adds a public number.
    ///
    /// Fails with [`SchemaError::Invalid`] for a number that is not E.164 (field `number`),
    /// a bad label or a target that does not exist (field `target_ref`), and with
    /// [`SchemaError::Conflict`] if the number exists already, as a public number or as a
    /// user's direct number.
    pub async fn create_public_number(
        &self,
        number: &str,
        spec: &PublicNumberSpec,
    ) -> Result<PublicNumber, SchemaError> {
        self.create_public_number_with_hours(number, spec, &NumberHours::default())
            .await
    }

    /// Adds a public number that follows opening hours.
    ///
    /// Fails as [`Db::create_public_number`] does, and with [`SchemaError::Invalid`] for a schedule
    /// that does not exist (field `schedule_id`), a closed target that does not exist (`closed_ref`) or
    /// half a closed target.
    pub async fn create_public_number_with_hours(
        &self,
        number: &str,
        spec: &PublicNumberSpec,
        hours: &NumberHours,
    ) -> Result<PublicNumber, SchemaError> {
        check_e164("number", number)?;
        spec.validate()?;
        hours.validate()?;
        let created_at = unix_now();
        let mut tx = self.begin_config_write().await?;
        check_target(
            &mut tx,
            "target_ref",
            spec.target_kind,
            &spec.target_ref,
            None,
        )
        .await?;
        hours.check_refs(&mut tx).await?;
        let direct_owner = sqlx::query_scalar::<_, String>(
            "SELECT u.username FROM user_call_settings s JOIN users u ON u.id = s.user_id \
             WHERE s.direct_number = $1",
        )
        .bind(number)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(owner) = direct_owner {
            return Err(SchemaError::Conflict(format!(
                "{number} is the direct number of user {owner:?}"
            )));
        }
        let inserted = sqlx::query(
            "INSERT INTO public_numbers (number, label, target_kind, target_ref, schedule_id, \
             closed_kind, closed_ref, created_at, priority) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(number)
        .bind(spec.label.as_str())
        .bind(spec.target_kind.as_str())
        .bind(spec.target_ref.as_str())
        .bind(hours.schedule_id)
        .bind(hours.closed_kind.map(TargetKind::as_str))
        .bind(hours.closed_ref.as_deref())
        .bind(created_at)
        .bind(spec.priority)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(err) if SchemaError::is_unique_violation(&err) => {
                return Err(SchemaError::Conflict(format!(
                    "public number {number} already exists"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        tx.commit().await?;
        tracing::info!(number, target = %spec.target_kind, target_ref = %spec.target_ref, "public number added");
        Ok(PublicNumber {
            number: number.to_owned(),
            label: spec.label.clone(),
            target_kind: spec.target_kind,
            target_ref: spec.target_ref.clone(),
            priority: spec.priority,
            schedule_id: hours.schedule_id,
            closed_kind: hours.closed_kind,
            closed_ref: hours.closed_ref.clone(),
            created_at,
        })
    }

    /// Changes where a public number routes and its label; its opening hours stay.
    ///
    /// Fails with [`SchemaError::NotFound`] if the number does not exist and with
    /// [`SchemaError::Invalid`] as [`Db::create_public_number`] does.
    pub async fn update_public_number(
        &self,
        number: &str,
        spec: &PublicNumberSpec,
    ) -> Result<PublicNumber, SchemaError> {
        self.update_public_number_with_hours(number, spec, None)
            .await
    }

    /// Changes where a public number routes and its label, and its opening hours when `hours` is
    /// `Some` (`None` keeps them).
    ///
    /// Fails as [`Db::update_public_number`] and [`Db::create_public_number_with_hours`] do.
    pub async fn update_public_number_with_hours(
        &self,
        number: &str,
        spec: &PublicNumberSpec,
        hours: Option<&NumberHours>,
    ) -> Result<PublicNumber, SchemaError> {
        spec.validate()?;
        if let Some(hours) = hours {
            hours.validate()?;
        }
        let mut tx = self.begin_config_write().await?;
        let updated = sqlx::query(
            "UPDATE public_numbers SET label = $2, target_kind = $3, target_ref = $4, \
             priority = $5 WHERE number = $1",
        )
        .bind(number)
        .bind(spec.label.as_str())
        .bind(spec.target_kind.as_str())
        .bind(spec.target_ref.as_str())
        .bind(spec.priority)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(SchemaError::NotFound(format!("public number {number}")));
        }
        check_target(
            &mut tx,
            "target_ref",
            spec.target_kind,
            &spec.target_ref,
            None,
        )
        .await?;
        if let Some(hours) = hours {
            hours.check_refs(&mut tx).await?;
            sqlx::query(
                "UPDATE public_numbers SET schedule_id = $2, closed_kind = $3, closed_ref = $4 \
                 WHERE number = $1",
            )
            .bind(number)
            .bind(hours.schedule_id)
            .bind(hours.closed_kind.map(TargetKind::as_str))
            .bind(hours.closed_ref.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query(&format!(
            "SELECT {NUMBER_COLUMNS} FROM public_numbers WHERE number = $1"
        ))
        .bind(number)
        .fetch_one(&mut *tx)
        .await?;
        let stored = number_from_row(&row)?;
        tx.commit().await?;
        tracing::info!(number, target = %spec.target_kind, target_ref = %spec.target_ref, "public number changed");
        Ok(stored)
    }

    /// Removes a public number. Returns whether it existed.
    pub async fn delete_public_number(&self, number: &str) -> Result<bool, SchemaError> {
        let mut tx = self.begin_config_write().await?;
        let removed = sqlx::query("DELETE FROM public_numbers WHERE number = $1")
            .bind(number)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        if removed {
            tracing::info!(number, "public number removed");
        }
        Ok(removed)
    }
}
