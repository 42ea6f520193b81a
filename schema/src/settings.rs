//! Switch-wide settings (`settings`) and per-user call settings (`user_call_settings`).

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::config::{check_e164, check_range, flag, text_enum, yes};
use crate::{Db, SchemaError};

/// The settings key of the municipality's main number (E.164), shown as caller ID on
/// outbound calls unless a user shows their direct number.
pub const MAIN_NUMBER: &str = "main_number";

/// Settings keys of the toll-fraud limits (see [`TollLimitSettings`]).
pub const TOLL_MAX_CONCURRENT: &str = "toll_max_concurrent_per_user";
pub const TOLL_MAX_MINUTES: &str = "toll_max_minutes_per_hour_per_user";

/// Toll-fraud limits on each user's calls abroad and to premium-rate numbers: past either the user
/// is blocked from such calls until an admin lifts it (emergency and national calls never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TollLimitSettings {
    /// Such calls one user may have at once, 1 to 1,000 (default 2).
    pub max_concurrent_per_user: u32,
    /// Minutes of such calls one user may have in any hour, 1 to 60,000 (default 120).
    pub max_minutes_per_hour_per_user: u32,
}

impl Default for TollLimitSettings {
    fn default() -> Self {
        TollLimitSettings {
            max_concurrent_per_user: 2,
            max_minutes_per_hour_per_user: 120,
        }
    }
}

/// Longest value of a setting; settings are short (numbers, names, flags), and a bound
/// keeps a typo in a script from storing megabytes.
const MAX_SETTING_BYTES: usize = 4096;

/// Longest cellular delay: past five minutes the caller has long hung up.
pub const MAX_CELLULAR_DELAY_SECS: i64 = 300;

text_enum! {
    /// Which number an outbound call from a user shows by default.
    #[derive(Default)]
    pub enum CallerIdDefault {
        /// The municipality's main number ([`MAIN_NUMBER`]).
        #[default]
        Main => "main",
        /// The user's direct number (which must then be set).
        Direct => "direct",
    }
}

text_enum! {
    /// SRTP (SDES keys, RFC 4568) on the user's phones. Keys only travel over TLS (or WSS), so
    /// over plain signalling the user's media is plain RTP whatever this says, except `required`,
    /// which then refuses the call.
    #[derive(Default)]
    pub enum SrtpPolicy {
        /// Never: plain RTP; a phone that insists on SRTP is refused.
        Off => "off",
        /// When the phone offers it or takes our offer over TLS (the default).
        #[default]
        Preferred => "preferred",
        /// Always: calls without SRTP, or to and from a phone not on TLS, are refused.
        Required => "required",
    }
}

/// A user's call settings. A user without stored settings has [`UserCallSettings::default`],
/// which equals the column defaults of the table (a test checks that).
///
/// In JSON every field may be left out and then takes its default: a `PUT` replaces the
/// whole settings. Unknown fields are refused, so a typo is an error and not a silent reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserCallSettings {
    /// The user's own public number in E.164, if any; unique across users and not also a
    /// public number (calls to it go straight to the user).
    #[serde(default)]
    pub direct_number: Option<String>,
    /// Caller ID of outbound calls: `main` (default) or `direct` (needs `direct_number`).
    #[serde(default)]
    pub caller_id_default: CallerIdDefault,
    /// Also ring the user's mobile (users.mobile) over the carrier (default false).
    #[serde(default)]
    pub ring_cellular: bool,
    /// Seconds to wait before ringing the mobile, 0 to 300 (default 0).
    #[serde(default)]
    pub cellular_delay_secs: i64,
    /// Ask whoever answers the mobile to press a key first, so that a voicemail cannot take
    /// the call (default true).
    #[serde(default = "yes")]
    pub confirm_cellular: bool,
    /// May call extensions (default true).
    #[serde(default = "yes")]
    pub allow_internal: bool,
    /// May call national fixed numbers (default true).
    #[serde(default = "yes")]
    pub allow_national: bool,
    /// May call national mobile numbers (default true).
    #[serde(default = "yes")]
    pub allow_mobile: bool,
    /// May call abroad (default false).
    #[serde(default)]
    pub allow_international: bool,
    /// May call premium-rate numbers (default false).
    #[serde(default)]
    pub allow_premium: bool,
    /// Encrypted media on the user's TLS phones: `preferred` (default), `required` or `off`.
    #[serde(default)]
    pub srtp: SrtpPolicy,
}

impl Default for UserCallSettings {
    fn default() -> Self {
        UserCallSettings {
            direct_number: None,
            caller_id_default: CallerIdDefault::Main,
            ring_cellular: false,
            cellular_delay_secs: 0,
            confirm_cellular: true,
            allow_internal: true,
            allow_national: true,
            allow_mobile: true,
            allow_international: false,
            allow_premium: false,
            srtp: SrtpPolicy::Preferred,
        }
    }
}

impl UserCallSettings {
    /// How long the mobile waits before it rings (hunt groups and queue offers alike). Stored
    /// values are 0 to 300 s; anything below 0 that got in some other way counts as no delay.
    pub fn cellular_delay(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::try_from(self.cellular_delay_secs).unwrap_or(0))
    }

    fn validate(&self) -> Result<(), SchemaError> {
        if let Some(number) = &self.direct_number {
            check_e164("direct_number", number)?;
        }
        if self.caller_id_default == CallerIdDefault::Direct && self.direct_number.is_none() {
            return Err(SchemaError::invalid(
                "caller_id_default",
                "\"direct\" needs a direct_number",
            ));
        }
        check_range(
            "cellular_delay_secs",
            self.cellular_delay_secs,
            0,
            MAX_CELLULAR_DELAY_SECS,
        )
    }
}

const CALL_SETTINGS_COLUMNS: &str = "s.user_id AS settings_user_id, s.direct_number, \
     s.caller_id_default, s.ring_cellular, s.cellular_delay_secs, s.confirm_cellular, \
     s.allow_internal, s.allow_national, s.allow_mobile, s.allow_international, s.allow_premium, \
     s.srtp";

/// Decodes the `s.*` columns of a `users LEFT JOIN user_call_settings s` row: no settings
/// row means the defaults.
fn call_settings_from_row(row: &AnyRow) -> Result<UserCallSettings, sqlx::Error> {
    if row.try_get::<Option<i64>, _>("settings_user_id")?.is_none() {
        return Ok(UserCallSettings::default());
    }
    Ok(UserCallSettings {
        direct_number: row.try_get("direct_number")?,
        caller_id_default: CallerIdDefault::from_db(
            row.try_get::<String, _>("caller_id_default")?.as_str(),
        )?,
        ring_cellular: flag(row, "ring_cellular")?,
        cellular_delay_secs: row.try_get("cellular_delay_secs")?,
        confirm_cellular: flag(row, "confirm_cellular")?,
        allow_internal: flag(row, "allow_internal")?,
        allow_national: flag(row, "allow_national")?,
        allow_mobile: flag(row, "allow_mobile")?,
        allow_international: flag(row, "allow_international")?,
        allow_premium: flag(row, "allow_premium")?,
        srtp: SrtpPolicy::from_db(row.try_get::<String, _>("srtp")?.as_str())?,
    })
}

impl Db {
    /// The value of a setting, if set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, SchemaError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets a setting, replacing any value. Keys are lowercase `a-z`, `0-9` and `_`; known
    /// keys have their value checked ([`MAIN_NUMBER`] must be E.164).
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), SchemaError> {
        let key_ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(SchemaError::invalid(
                "key",
                "must be 1 to 64 of a-z, 0-9 and '_'",
            ));
        }
        if value.len() > MAX_SETTING_BYTES {
            return Err(SchemaError::invalid(
                key,
                format!("must be at most {MAX_SETTING_BYTES} bytes"),
            ));
        }
        if key == MAIN_NUMBER {
            check_e164(MAIN_NUMBER, value)?;
        }
        let mut tx = self.begin_config_write().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(key, value, "setting changed");
        Ok(())
    }

    /// The municipality's main number, if set.
    pub async fn main_number(&self) -> Result<Option<String>, SchemaError> {
        self.setting(MAIN_NUMBER).await
    }

    /// Sets the main number; fails with [`SchemaError::Invalid`] unless it is E.164.
    pub async fn set_main_number(&self, number: &str) -> Result<(), SchemaError> {
        self.set_setting(MAIN_NUMBER, number).await
    }

    /// The toll-fraud limits (defaults where none were stored).
    pub async fn toll_limits(&self) -> Result<TollLimitSettings, SchemaError> {
        let d = TollLimitSettings::default();
        let read = |v: Option<String>, default: u32| {
            v.and_then(|v| v.parse::<u32>().ok()).unwrap_or(default)
        };
        Ok(TollLimitSettings {
            max_concurrent_per_user: read(
                self.setting(TOLL_MAX_CONCURRENT).await?,
                d.max_concurrent_per_user,
            ),
            max_minutes_per_hour_per_user: read(
                self.setting(TOLL_MAX_MINUTES).await?,
                d.max_minutes_per_hour_per_user,
            ),
        })
    }

    /// Sets the toll-fraud limits (in force for the next call).
    pub async fn set_toll_limits(&self, limits: &TollLimitSettings) -> Result<(), SchemaError> {
        check_range(
            "max_concurrent_per_user",
            i64::from(limits.max_concurrent_per_user),
            1,
            1000,
        )?;
        check_range(
            "max_minutes_per_hour_per_user",
            i64::from(limits.max_minutes_per_hour_per_user),
            1,
            60_000,
        )?;
        self.set_setting(
            TOLL_MAX_CONCURRENT,
            &limits.max_concurrent_per_user.to_string(),
        )
        .await?;
        self.set_setting(
            TOLL_MAX_MINUTES,
            &limits.max_minutes_per_hour_per_user.to_string(),
        )
        .await
    }

    /// The user's call settings (the defaults if none were stored), or `None` if there is no
    /// such user.
    pub async fn user_call_settings(
        &self,
        username: &str,
    ) -> Result<Option<UserCallSettings>, SchemaError> {
        let row = sqlx::query(&format!(
            "SELECT {CALL_SETTINGS_COLUMNS} FROM users u \
             LEFT JOIN user_call_settings s ON s.user_id = u.id WHERE u.username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(call_settings_from_row).transpose()?)
    }

    /// Every user's call settings as `(username, settings)`, ordered by username, defaults
    /// filled in: for loading call control's view at start.
    pub async fn list_user_call_settings(
        &self,
    ) -> Result<Vec<(String, UserCallSettings)>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT u.username, {CALL_SETTINGS_COLUMNS} FROM users u \
             LEFT JOIN user_call_settings s ON s.user_id = u.id ORDER BY u.username"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push((row.try_get("username")?, call_settings_from_row(row)?));
        }
        Ok(out)
    }

    /// Replaces the user's call settings.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown user, [`SchemaError::Invalid`]
    /// for a bad field (including `ring_cellular` for a user without a mobile number) and
    /// [`SchemaError::Conflict`] if the direct number belongs to another user or is a public
    /// number: an inbound call to it must land in exactly one place.
    pub async fn set_user_call_settings(
        &self,
        username: &str,
        settings: &UserCallSettings,
    ) -> Result<(), SchemaError> {
        settings.validate()?;
        let mut tx = self.begin_config_write().await?;
        let user = sqlx::query_as::<_, (i64, Option<String>)>(
            "SELECT id, mobile FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, mobile)) = user else {
            return Err(SchemaError::NotFound(format!("user {username:?}")));
        };
        if settings.ring_cellular && mobile.is_none() {
            return Err(SchemaError::invalid(
                "ring_cellular",
                format!("user {username:?} has no mobile number to ring"),
            ));
        }
        if let Some(number) = &settings.direct_number {
            let owner = sqlx::query_scalar::<_, String>(
                "SELECT u.username FROM user_call_settings s JOIN users u ON u.id = s.user_id \
                 WHERE s.direct_number = $1 AND s.user_id <> $2",
            )
            .bind(number.as_str())
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(owner) = owner {
                return Err(SchemaError::Conflict(format!(
                    "{number} is already the direct number of user {owner:?}"
                )));
            }
            let public = sqlx::query_scalar::<_, String>(
                "SELECT number FROM public_numbers WHERE number = $1",
            )
            .bind(number.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if public.is_some() {
                return Err(SchemaError::Conflict(format!(
                    "{number} is a public number; remove it there or pick another direct number"
                )));
            }
        }
        sqlx::query(
            "INSERT INTO user_call_settings (user_id, direct_number, caller_id_default, \
             ring_cellular, cellular_delay_secs, confirm_cellular, allow_internal, \
             allow_national, allow_mobile, allow_international, allow_premium, srtp) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (user_id) DO UPDATE SET direct_number = excluded.direct_number, \
             caller_id_default = excluded.caller_id_default, \
             ring_cellular = excluded.ring_cellular, \
             cellular_delay_secs = excluded.cellular_delay_secs, \
             confirm_cellular = excluded.confirm_cellular, \
             allow_internal = excluded.allow_internal, allow_national = excluded.allow_national, \
             allow_mobile = excluded.allow_mobile, \
             allow_international = excluded.allow_international, \
             allow_premium = excluded.allow_premium, srtp = excluded.srtp",
        )
        .bind(user_id)
        .bind(settings.direct_number.as_deref())
        .bind(settings.caller_id_default.as_str())
        .bind(i64::from(settings.ring_cellular))
        .bind(settings.cellular_delay_secs)
        .bind(i64::from(settings.confirm_cellular))
        .bind(i64::from(settings.allow_internal))
        .bind(i64::from(settings.allow_national))
        .bind(i64::from(settings.allow_mobile))
        .bind(i64::from(settings.allow_international))
        .bind(i64::from(settings.allow_premium))
        .bind(settings.srtp.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(username, "call settings changed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cellular_delay_is_never_negative() {
        let mut s = UserCallSettings {
            cellular_delay_secs: 20,
            ..UserCallSettings::default()
        };
        assert_eq!(s.cellular_delay(), std::time::Duration::from_secs(20));
        s.cellular_delay_secs = -5;
        assert_eq!(s.cellular_delay(), std::time::Duration::ZERO);
    }

    #[test]
    fn json_defaults_match_default() {
        let parsed: UserCallSettings = serde_json::from_str("{}").expect("empty object");
        assert_eq!(parsed, UserCallSettings::default());
        let err = serde_json::from_str::<UserCallSettings>(r#"{"ring_celular": true}"#)
            .expect_err("typo refused");
        assert!(err.to_string().contains("ring_celular"), "{err}");
    }

    #[test]
    fn caller_id_spelling_matches_serde() {
        for v in CallerIdDefault::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
    }

    #[test]
    fn validation() {
        assert!(UserCallSettings::default().validate().is_ok());
        let direct_without_number = UserCallSettings {
            caller_id_default: CallerIdDefault::Direct,
            ..UserCallSettings::default()
        };
        let err = direct_without_number.validate().expect_err("needs number");
        assert!(
            matches!(&err, SchemaError::Invalid { field, .. } if field == "caller_id_default"),
            "{err:?}"
        );
        let bad_number = UserCallSettings {
            direct_number: Some("64000123".into()),
            ..UserCallSettings::default()
        };
        assert!(
            matches!(bad_number.validate(), Err(SchemaError::Invalid { field, .. }) if field == "direct_number")
        );
        let long_delay = UserCallSettings {
            cellular_delay_secs: 301,
            ..UserCallSettings::default()
        };
        assert!(long_delay.validate().is_err());
    }
}
