//! Users (extensions) and their digest credentials.

use std::fmt;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::config::{referrers, TargetKind};
use crate::{unix_now, Db, SchemaError};

/// A user to create: the extension, the name callers see, and the mobile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The extension, e.g. `"201"`; unique, non-empty, no whitespace, `@` or `:`.
    pub username: String,
    /// The name shown to callers, e.g. `"Reception"`.
    pub display_name: String,
    /// The staff member's mobile number in E.164 (`"+31612345678"`), if any.
    pub mobile: Option<String>,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Database id; stable for the user's lifetime, never reused on SQLite.
    pub id: i64,
    /// The extension; unique.
    pub username: String,
    /// The name shown to callers.
    pub display_name: String,
    /// Mobile number in E.164, if any.
    pub mobile: Option<String>,
    /// When the user was created, unix seconds.
    pub created_at: i64,
}

/// Digest credentials as stored: the realm and the HA1 hashes, never the
/// password.
///
/// `ha1_md5` is the lowercase hex `MD5(username:realm:password)` (32
/// characters), `ha1_sha256` the lowercase hex `SHA-256(username:realm:password)`
/// (64 characters), as RFC 7616 defines HA1. The database layer checks the
/// shape, not the content: computing them is the caller's job.
///
/// `Debug` does not print the hashes: an HA1 is enough to answer a digest
/// challenge, so it must not end up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct HashedCredentials {
    /// The digest realm the hashes were computed for.
    pub realm: String,
    /// Lowercase hex MD5 HA1, 32 characters.
    pub ha1_md5: String,
    /// Lowercase hex SHA-256 HA1, 64 characters.
    pub ha1_sha256: String,
}

impl fmt::Debug for HashedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedCredentials")
            .field("realm", &self.realm)
            .field("ha1_md5", &"<redacted>")
            .field("ha1_sha256", &"<redacted>")
            .finish()
    }
}

impl HashedCredentials {
    /// Checks the shape: non-empty realm, HA1s lowercase hex of the right
    /// length.
    fn validate(&self) -> Result<(), SchemaError> {
        if self.realm.is_empty() {
            return Err(SchemaError::InvalidInput("empty digest realm".into()));
        }
        check_hex("ha1_md5", &self.ha1_md5, 32)?;
        check_hex("ha1_sha256", &self.ha1_sha256, 64)
    }
}

fn check_hex(field: &str, value: &str, len: usize) -> Result<(), SchemaError> {
    let hex = value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if value.len() == len && hex {
        Ok(())
    } else {
        // Never echo the value: it might be a password passed by mistake.
        Err(SchemaError::InvalidInput(format!(
            "{field} must be {len} lowercase hex characters"
        )))
    }
}

impl NewUser {
    fn validate(&self) -> Result<(), SchemaError> {
        if self.username.is_empty() {
            return Err(SchemaError::InvalidInput("empty username".into()));
        }
        if self
            .username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == ':')
        {
            return Err(SchemaError::InvalidInput(format!(
                "username {:?} contains whitespace, '@' or ':'",
                self.username
            )));
        }
        if let Some(mobile) = &self.mobile {
            if !is_e164(mobile) {
                return Err(SchemaError::InvalidInput(format!(
                    "mobile {mobile:?} is not E.164 (+ and 8 to 15 digits, no leading 0)"
                )));
            }
        }
        Ok(())
    }
}

/// A number in the stored E.164 form: what routing's number plan accepts as a public number (`+`, 8 to
/// 15 digits, the first not 0 — routing owns the rule), written canonically (no separators), so
/// what the API accepts is exactly what call control can dial and match.
pub(crate) fn is_e164(number: &str) -> bool {
    switchboard_routing::numbers::E164::parse(number).is_ok_and(|n| n.as_str() == number)
}

fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        mobile: row.try_get("mobile")?,
        created_at: row.try_get("created_at")?,
    })
}

fn credentials_from_row(row: &AnyRow) -> Result<HashedCredentials, sqlx::Error> {
    Ok(HashedCredentials {
        realm: row.try_get("realm")?,
        ha1_md5: row.try_get("ha1_md5")?,
        ha1_sha256: row.try_get("ha1_sha256")?,
    })
}

const USER_COLUMNS: &str = "id, username, display_name, mobile, created_at";

impl Db {
    /// Creates a user with its credentials, in one transaction.
    ///
    /// Fails with [`SchemaError::Conflict`] if the username is taken and
    /// [`SchemaError::InvalidInput`] if a field breaks the rules documented
    /// on [`NewUser`] and [`HashedCredentials`].
    pub async fn create_user(
        &self,
        new: &NewUser,
        creds: &HashedCredentials,
    ) -> Result<User, SchemaError> {
        new.validate()?;
        creds.validate()?;
        let created_at = unix_now();
        // A configuration write: running nodes route calls to the new extension once they see
        // the version move.
        let mut tx = self.begin_config_write().await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, display_name, mobile, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(new.username.as_str())
        .bind(new.display_name.as_str())
        .bind(new.mobile.as_deref())
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(err) if SchemaError::is_unique_violation(&err) => {
                return Err(SchemaError::Conflict(format!(
                    "user {:?} already exists",
                    new.username
                )));
            }
            Err(err) => return Err(err.into()),
        };
        sqlx::query(
            "INSERT INTO credentials (user_id, realm, ha1_md5, ha1_sha256) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(creds.realm.as_str())
        .bind(creds.ha1_md5.as_str())
        .bind(creds.ha1_sha256.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(username = %new.username, id, "user created");
        Ok(User {
            id,
            username: new.username.clone(),
            display_name: new.display_name.clone(),
            mobile: new.mobile.clone(),
            created_at,
        })
    }

    /// All users, ordered by username (bytewise on both backends).
    pub async fn list_users(&self) -> Result<Vec<User>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// The user with this username, if any.
    pub async fn get_user(&self, username: &str) -> Result<Option<User>, SchemaError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Replaces the user's credentials (a password change or a realm change).
    ///
    /// Fails with [`SchemaError::NotFound`] if there is no such user.
    pub async fn set_credentials(
        &self,
        username: &str,
        creds: &HashedCredentials,
    ) -> Result<(), SchemaError> {
        creds.validate()?;
        // The WHERE clause is needed by SQLite's parser for INSERT ... SELECT
        // ... ON CONFLICT, and gives "0 rows" for an unknown user.
        let result = sqlx::query(
            "INSERT INTO credentials (user_id, realm, ha1_md5, ha1_sha256) \
             SELECT id, $2, $3, $4 FROM users WHERE username = $1 \
             ON CONFLICT (user_id) DO UPDATE SET realm = excluded.realm, \
             ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256",
        )
        .bind(username)
        .bind(creds.realm.as_str())
        .bind(creds.ha1_md5.as_str())
        .bind(creds.ha1_sha256.as_str())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(SchemaError::NotFound(format!("user {username:?}")));
        }
        tracing::info!(username, "credentials updated");
        Ok(())
    }

    /// Removes the user, its credentials, call settings, hunt group memberships
    /// and registrations, in one transaction. Returns whether the user existed.
    ///
    /// Fails with [`SchemaError::InUse`] (and removes nothing) while a public
    /// number or a hunt group's no-answer rule still routes calls to the user:
    /// those refer to the username as TEXT, so no foreign key would catch it,
    /// and silently leaving them dangling would lose citizens' calls.
    pub async fn remove_user(&self, username: &str) -> Result<bool, SchemaError> {
        // A configuration write: memberships and call settings go with the user.
        let mut tx = self.begin_config_write().await?;
        sqlx::query("DELETE FROM registrations WHERE aor = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        // Credentials, call settings and memberships go with the user: ON DELETE CASCADE.
        let removed = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if removed {
            let refs = referrers(&mut tx, TargetKind::User, username).await?;
            if !refs.is_empty() {
                tx.rollback().await?;
                return Err(SchemaError::InUse(format!(
                    "user {username:?} still receives calls from {}",
                    refs.join(", ")
                )));
            }
        }
        tx.commit().await?;
        if removed {
            tracing::info!(username, "user removed");
        }
        Ok(removed)
    }

    /// How many users exist.
    pub async fn user_count(&self) -> Result<i64, SchemaError> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The user's credentials, or `None` if there is no such user.
    pub async fn credentials(
        &self,
        username: &str,
    ) -> Result<Option<HashedCredentials>, SchemaError> {
        let row = sqlx::query(
            "SELECT c.realm, c.ha1_md5, c.ha1_sha256 \
             FROM credentials c JOIN users u ON u.id = c.user_id \
             WHERE u.username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(credentials_from_row).transpose()?)
    }

    /// Every user's credentials as `(username, credentials)`, ordered by
    /// username: for filling the authenticator's cache at start.
    pub async fn all_credentials(&self) -> Result<Vec<(String, HashedCredentials)>, SchemaError> {
        let rows = sqlx::query(
            "SELECT u.username, c.realm, c.ha1_md5, c.ha1_sha256 \
             FROM credentials c JOIN users u ON u.id = c.user_id \
             ORDER BY u.username",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut all = Vec::with_capacity(rows.len());
        for row in &rows {
            all.push((row.try_get("username")?, credentials_from_row(row)?));
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> HashedCredentials {
        HashedCredentials {
            realm: "sb".into(),
            ha1_md5: "a".repeat(32),
            ha1_sha256: "0".repeat(64),
        }
    }

    #[test]
    fn credentials_shape_is_checked() {
        assert!(creds().validate().is_ok());
        let mut c = creds();
        c.ha1_md5 = "hunter2".into();
        let err = c.validate().expect_err("password-like");
        assert!(!err.to_string().contains("hunter2"));
        let mut c = creds();
        c.ha1_sha256 = "A".repeat(64);
        assert!(c.validate().is_err(), "uppercase hex");
        let mut c = creds();
        c.ha1_sha256 = "0".repeat(63);
        assert!(c.validate().is_err(), "short");
        let mut c = creds();
        c.realm.clear();
        assert!(c.validate().is_err(), "empty realm");
    }

    #[test]
    fn debug_redacts_hashes() {
        let shown = format!("{:?}", creds());
        assert!(shown.contains("sb"));
        assert!(!shown.contains(&"a".repeat(32)));
    }

    #[test]
    fn e164() {
        for ok in ["+31612345678", "+4712345678", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "0612345678",
            "+",
            "+1",
            "+12",
            "+4712345",
            "+0612345678",
            "+1234567890123456",
            "+31 6 1234",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn username_rules() {
        let user = |name: &str| NewUser {
            username: name.into(),
            display_name: "x".into(),
            mobile: None,
        };
        assert!(user("201").validate().is_ok());
        assert!(user("alice.smith").validate().is_ok());
        for bad in ["", "2 01", "201@sb", "sip:201"] {
            assert!(user(bad).validate().is_err(), "{bad:?}");
        }
    }
}
