//! Public numbers (`public_numbers`): the inbound numbers and where each routes.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::config::{check_e164, check_target, check_text, TargetKind, MAX_LABEL_CHARS};
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
    /// When it was added, unix seconds.
    pub created_at: i64,
}

const NUMBER_COLUMNS: &str = "number, label, target_kind, target_ref, created_at";

fn number_from_row(row: &AnyRow) -> Result<PublicNumber, sqlx::Error> {
    Ok(PublicNumber {
        number: row.try_get("number")?,
        label: row.try_get("label")?,
        target_kind: TargetKind::from_db(row.try_get::<String, _>("target_kind")?.as_str())?,
        target_ref: row.try_get("target_ref")?,
        created_at: row.try_get("created_at")?,
    })
}

impl PublicNumberSpec {
    fn validate(&self) -> Result<(), SchemaError> {
        check_text("label", &self.label, MAX_LABEL_CHARS)
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
        check_e164("number", number)?;
        spec.validate()?;
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
            "INSERT INTO public_numbers (number, label, target_kind, target_ref, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(number)
        .bind(spec.label.as_str())
        .bind(spec.target_kind.as_str())
        .bind(spec.target_ref.as_str())
        .bind(created_at)
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
            created_at,
        })
    }

    /// Changes where a public number routes and its label.
    ///
    /// Fails with [`SchemaError::NotFound`] if the number does not exist and with
    /// [`SchemaError::Invalid`] as [`Db::create_public_number`] does.
    pub async fn update_public_number(
        &self,
        number: &str,
        spec: &PublicNumberSpec,
    ) -> Result<PublicNumber, SchemaError> {
        spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        let updated = sqlx::query(
            "UPDATE public_numbers SET label = $2, target_kind = $3, target_ref = $4 \
             WHERE number = $1",
        )
        .bind(number)
        .bind(spec.label.as_str())
        .bind(spec.target_kind.as_str())
        .bind(spec.target_ref.as_str())
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
