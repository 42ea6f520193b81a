//! Push-capable staff apps (`push_devices`): what the registrar learned from REGISTERs with push
//! parameters (RFC 8599), and the last push sent to each and its outcome, for the admin API.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Db, SchemaError};

/// One app installation of a user that can be woken by a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushDeviceRow {
    /// The user (SIP username).
    pub aor: String,
    /// `fcm` or `apns`.
    pub provider: String,
    /// The provider's token for the installation (`pn-prid`).
    pub prid: String,
    /// The FCM project, or the APNs team and topic (`pn-param`).
    pub param: Option<String>,
    /// When it last registered, unix seconds.
    pub registered_at: i64,
    /// When a push was last sent to it, unix seconds.
    pub last_push_at: Option<i64>,
    /// What became of that push: `sent`, `invalid_token` or `failed: <why>`.
    pub last_push_outcome: Option<String>,
}

/// A change the registrar made to the devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushDeviceChange {
    Upsert {
        aor: String,
        provider: String,
        prid: String,
        param: Option<String>,
        registered_at: i64,
    },
    Remove {
        aor: String,
        prid: String,
    },
}

const COLUMNS: &str = "aor, provider, prid, param, registered_at, last_push_at, last_push_outcome";

fn from_row(row: &AnyRow) -> Result<PushDeviceRow, sqlx::Error> {
    Ok(PushDeviceRow {
        aor: row.try_get("aor")?,
        provider: row.try_get("provider")?,
        prid: row.try_get("prid")?,
        param: row.try_get("param")?,
        registered_at: row.try_get("registered_at")?,
        last_push_at: row.try_get("last_push_at")?,
        last_push_outcome: row.try_get("last_push_outcome")?,
    })
}

/// The longest outcome text stored (a provider's error reason is cut there).
const MAX_OUTCOME_CHARS: usize = 200;

impl Db {
    /// Applies the registrar's device changes in order, in one transaction.
    pub async fn apply_push_device_changes(
        &self,
        changes: &[PushDeviceChange],
    ) -> Result<(), SchemaError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            match change {
                PushDeviceChange::Upsert {
                    aor,
                    provider,
                    prid,
                    param,
                    registered_at,
                } => {
                    sqlx::query(
                        "INSERT INTO push_devices (aor, prid, provider, param, registered_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (aor, prid) DO UPDATE SET \
                         provider = excluded.provider, param = excluded.param, \
                         registered_at = excluded.registered_at",
                    )
                    .bind(aor.as_str())
                    .bind(prid.as_str())
                    .bind(provider.as_str())
                    .bind(param.as_deref())
                    .bind(*registered_at)
                    .execute(&mut *tx)
                    .await?;
                }
                PushDeviceChange::Remove { aor, prid } => {
                    sqlx::query("DELETE FROM push_devices WHERE aor = $1 AND prid = $2")
                        .bind(aor.as_str())
                        .bind(prid.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records the push just sent to a device and its outcome (a device since forgotten is left so).
    pub async fn record_push(
        &self,
        aor: &str,
        prid: &str,
        at: i64,
        outcome: &str,
    ) -> Result<(), SchemaError> {
        let outcome: String = outcome.chars().take(MAX_OUTCOME_CHARS).collect();
        sqlx::query(
            "UPDATE push_devices SET last_push_at = $1, last_push_outcome = $2 \
             WHERE aor = $3 AND prid = $4",
        )
        .bind(at)
        .bind(outcome)
        .bind(aor)
        .bind(prid)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every device, by user then token (for restoring the registrar at start), or one user's.
    pub async fn push_devices(&self, aor: Option<&str>) -> Result<Vec<PushDeviceRow>, SchemaError> {
        let rows = match aor {
            Some(aor) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM push_devices WHERE aor = $1 ORDER BY prid"
                ))
                .bind(aor)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM push_devices ORDER BY aor, prid"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn devices_are_stored_updated_and_removed_and_keep_their_last_push() {
        let db = Db::connect("sqlite::memory:").await.expect("db");
        let upsert = |at| PushDeviceChange::Upsert {
            aor: "1001".into(),
            provider: "fcm".into(),
            prid: "tok".into(),
            param: Some("proj".into()),
            registered_at: at,
        };
        db.apply_push_device_changes(&[upsert(10), upsert(20)])
            .await
            .expect("upsert");
        db.record_push("1001", "tok", 30, "sent")
            .await
            .expect("record");
        db.apply_push_device_changes(&[upsert(40)])
            .await
            .expect("refresh");
        let devices = db.push_devices(Some("1001")).await.expect("list");
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].registered_at, 40);
        assert_eq!(
            devices[0].last_push_at,
            Some(30),
            "a refresh keeps the last push"
        );
        assert_eq!(devices[0].last_push_outcome.as_deref(), Some("sent"));
        db.apply_push_device_changes(&[PushDeviceChange::Remove {
            aor: "1001".into(),
            prid: "tok".into(),
        }])
        .await
        .expect("remove");
        assert!(db.push_devices(None).await.expect("list").is_empty());
    }
}
