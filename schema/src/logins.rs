//! People's logins (issue 15): roles, local passwords (argon2id PHC strings computed by the API
//! layer), TOTP secrets, sessions and the audit log. Tokens are never stored, only their SHA-256 hex
//! hashes, so a copy of the database lets nobody in.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{unix_now, Db, SchemaError};

/// The roles a user may hold.
pub const ROLES: [&str; 3] = ["admin", "receptionist", "staff"];

/// A user's local login as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginRow {
    pub user_id: i64,
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub password_changed_at: i64,
    /// Base32 secret, present once the user began enrolling.
    pub totp_secret: Option<String>,
    /// The secret was confirmed with a code: logins need one from now on.
    pub totp_confirmed: bool,
}

impl std::fmt::Debug for LoginRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRow")
            .field("username", &self.username)
            .field("totp_confirmed", &self.totp_confirmed)
            .finish_non_exhaustive()
    }
}

/// A session to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub access_hash: String,
    pub refresh_hash: String,
    pub user_id: i64,
    /// `full`, or `totp_enrolment` (may only enrol a second factor).
    pub scope: String,
    /// `password` or `oidc`.
    pub method: String,
    /// Where the login came from (IP address).
    pub source: String,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
}

/// A live session found by its access token, with the user's roles as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub access_hash: String,
    pub user_id: i64,
    pub username: String,
    pub scope: String,
    pub roles: Vec<String>,
}

/// A line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// When, unix milliseconds.
    pub at_ms: i64,
    /// Who: a username, `admin-token` (the integration token), or for a failed login the name given.
    pub actor: String,
    /// What: `login`, `login_failed`, `logout`, or the request (`PUT /api/v1/queues/3`).
    pub action: String,
    /// What it concerned (the user of a login; the path of a request).
    pub target: String,
    /// The HTTP status answered.
    pub outcome: i64,
    /// From where: the client's IP address.
    pub source: String,
}

/// Which audit lines to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub actor: Option<String>,
    pub limit: i64,
}

fn login_from_row(row: &AnyRow) -> Result<LoginRow, sqlx::Error> {
    Ok(LoginRow {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        password_changed_at: row.try_get("password_changed_at")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_confirmed: row.try_get::<i64, _>("totp_confirmed")? != 0,
    })
}

fn audit_from_row(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        at_ms: row.try_get("at_ms")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        source: row.try_get("source")?,
    })
}

impl Db {
    /// The roles of a user (sorted), or `None` if there is no such user.
    pub async fn roles(&self, username: &str) -> Result<Option<Vec<String>>, SchemaError> {
        let Some(user) = self.get_user(username).await? else {
            return Ok(None);
        };
        let roles = sqlx::query_scalar::<_, String>(
            "SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role",
        )
        .bind(user.id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(roles))
    }

    /// Replaces a user's roles; `false` if there is no such user. Roles outside [`ROLES`] are refused.
    pub async fn set_roles(&self, username: &str, roles: &[String]) -> Result<bool, SchemaError> {
        if let Some(bad) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
            return Err(SchemaError::invalid(
                "roles",
                format!("unknown role {bad:?}: admin, receptionist or staff"),
            ));
        }
        let Some(user) = self.get_user(username).await? else {
            return Ok(false);
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        let mut seen: Vec<&str> = Vec::new();
        for role in roles {
            if seen.contains(&role.as_str()) {
                continue;
            }
            seen.push(role);
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(user.id)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        tracing::info!(username, ?roles, "roles set");
        Ok(true)
    }

    /// A user's local login, if they have one.
    pub async fn login(&self, username: &str) -> Result<Option<LoginRow>, SchemaError> {
        let row = sqlx::query(
            "SELECT l.user_id, u.username, l.password_hash, l.password_changed_at, l.totp_secret, \
             l.totp_confirmed FROM logins l JOIN users u ON u.id = l.user_id WHERE u.username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(login_from_row).transpose()?)
    }

    /// Sets a user's login password (an argon2id PHC string) and ends all their sessions, or all
    /// but `keep` (the session of a user changing their own password). `false`: no such user.
    pub async fn set_login_password(
        &self,
        username: &str,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool, SchemaError> {
        let Some(user) = self.get_user(username).await? else {
            return Ok(false);
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO logins (user_id, password_hash, password_changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, \
             password_changed_at = excluded.password_changed_at",
        )
        .bind(user.id)
        .bind(password_hash)
        .bind(unix_now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND access_hash <> $2")
            .bind(user.id)
            .bind(keep.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(username, "login password set, other sessions ended");
        Ok(true)
    }

    /// Stores a new, unconfirmed TOTP secret (or clears it with `None`, which turns two-factor off).
    pub async fn set_totp_secret(
        &self,
        user_id: i64,
        secret: Option<&str>,
    ) -> Result<(), SchemaError> {
        sqlx::query(
            "UPDATE logins SET totp_secret = $1, totp_confirmed = 0, totp_last_step = NULL \
             WHERE user_id = $2",
        )
        .bind(secret)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the stored TOTP secret confirmed.
    pub async fn confirm_totp(&self, user_id: i64) -> Result<(), SchemaError> {
        sqlx::query("UPDATE logins SET totp_confirmed = 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that TOTP time step `step` was used. `false` when it (or a later one) was used
    /// before: a code is good once, even with several nodes sharing the database.
    pub async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, SchemaError> {
        let changed = sqlx::query(
            "UPDATE logins SET totp_last_step = $1 WHERE user_id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Stores a new session; expired ones are swept at the same time.
    pub async fn create_session(&self, session: &NewSession) -> Result<(), SchemaError> {
        let now = unix_now();
        sqlx::query("DELETE FROM sessions WHERE refresh_expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (access_hash, refresh_hash, user_id, scope, method, source, \
             created_at, access_expires_at, refresh_expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&session.access_hash)
        .bind(&session.refresh_hash)
        .bind(session.user_id)
        .bind(&session.scope)
        .bind(&session.method)
        .bind(&session.source)
        .bind(now)
        .bind(session.access_expires_at)
        .bind(session.refresh_expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session whose access token hashes to `access_hash`, if it is still valid at `now`.
    pub async fn session_user(
        &self,
        access_hash: &str,
        now: i64,
    ) -> Result<Option<SessionUser>, SchemaError> {
        let rows = sqlx::query(
            "SELECT s.user_id, u.username, s.scope, r.role FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             LEFT JOIN user_roles r ON r.user_id = s.user_id \
             WHERE s.access_hash = $1 AND s.access_expires_at > $2",
        )
        .bind(access_hash)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut roles = Vec::new();
        for row in &rows {
            if let Some(role) = row.try_get::<Option<String>, _>("role")? {
                roles.push(role);
            }
        }
        roles.sort();
        Ok(Some(SessionUser {
            access_hash: access_hash.to_owned(),
            user_id: first.try_get("user_id")?,
            username: first.try_get("username")?,
            scope: first.try_get("scope")?,
            roles,
        }))
    }

    /// Swaps a valid refresh token for new tokens (the old pair stops working); the user's id, or
    /// `None` when the refresh token is unknown or expired.
    pub async fn rotate_session(
        &self,
        refresh_hash: &str,
        new_access_hash: &str,
        new_refresh_hash: &str,
        access_expires_at: i64,
        now: i64,
    ) -> Result<Option<i64>, SchemaError> {
        let user = sqlx::query_scalar::<_, i64>(
            "UPDATE sessions SET access_hash = $1, refresh_hash = $2, access_expires_at = $3 \
             WHERE refresh_hash = $4 AND refresh_expires_at > $5 RETURNING user_id",
        )
        .bind(new_access_hash)
        .bind(new_refresh_hash)
        .bind(access_expires_at)
        .bind(refresh_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(user)
    }

    /// Ends one session (logout).
    pub async fn end_session(&self, access_hash: &str) -> Result<(), SchemaError> {
        sqlx::query("DELETE FROM sessions WHERE access_hash = $1")
            .bind(access_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user; how many there were.
    pub async fn end_sessions_of(&self, username: &str) -> Result<u64, SchemaError> {
        Ok(sqlx::query(
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE username = $1)",
        )
        .bind(username)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Widens a session that could only enrol a second factor, once it has.
    pub async fn set_session_scope(
        &self,
        access_hash: &str,
        scope: &str,
    ) -> Result<(), SchemaError> {
        sqlx::query("UPDATE sessions SET scope = $1 WHERE access_hash = $2")
            .bind(scope)
            .bind(access_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends a line to the audit log.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), SchemaError> {
        sqlx::query(
            "INSERT INTO audit_log (at_ms, actor, action, target, outcome, source) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.at_ms)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(entry.outcome)
        .bind(&entry.source)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Audit lines, oldest first, at most `filter.limit`.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, SchemaError> {
        let rows = sqlx::query(
            "SELECT at_ms, actor, action, target, outcome, source FROM audit_log \
             WHERE at_ms >= $1 AND at_ms < $2 AND ($3 = '' OR actor = $3) \
             ORDER BY at_ms LIMIT $4",
        )
        .bind(filter.from_ms.unwrap_or(0))
        .bind(filter.to_ms.unwrap_or(i64::MAX))
        .bind(filter.actor.as_deref().unwrap_or(""))
        .bind(filter.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_from_row).collect::<Result<_, _>>()?)
    }
}
