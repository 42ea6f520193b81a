//! Uploaded prompts (`prompts`): WAV files an admin recorded, each replacing the built-in prompt of the
//! same name until it is deleted.
//!
//! This crate checks the name and the size only; whether the bytes are a WAV file that playback can
//! decode is the uploader's check (the admin API runs the media crate's parser), so that the database
//! layer stays free of codecs.

use serde::Serialize;
use sqlx::Row;

use crate::{unix_now, Db, SchemaError};

/// Largest prompt upload, bytes.
pub const MAX_PROMPT_BYTES: usize = 5 * 1024 * 1024;
/// Longest prompt name.
pub const MAX_PROMPT_NAME_CHARS: usize = 40;

/// An uploaded prompt without its audio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PromptInfo {
    /// `[a-z0-9_]{1,40}`.
    pub name: String,
    /// Size of the WAV file.
    pub size_bytes: i64,
    /// When it was uploaded, unix seconds.
    pub uploaded_at: i64,
}

/// An uploadable prompt name: 1 to 40 of `a-z`, `0-9` and `_` (the built-in names' alphabet).
pub fn check_upload_name(name: &str) -> Result<(), SchemaError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_PROMPT_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            "name",
            format!("must be 1 to {MAX_PROMPT_NAME_CHARS} of a-z, 0-9 and '_', got {name:?}"),
        ))
    }
}

impl Db {
    /// Every uploaded prompt, by name, without the audio.
    pub async fn list_prompts(&self) -> Result<Vec<PromptInfo>, SchemaError> {
        let rows = sqlx::query(
            "SELECT name, CAST(LENGTH(wav) AS BIGINT) AS size_bytes, uploaded_at FROM prompts \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(PromptInfo {
                name: row.try_get("name")?,
                size_bytes: row.try_get("size_bytes")?,
                uploaded_at: row.try_get("uploaded_at")?,
            });
        }
        Ok(out)
    }

    /// The names of the uploaded prompts, sorted.
    pub async fn prompt_names(&self) -> Result<Vec<String>, SchemaError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT name FROM prompts ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The WAV bytes of the uploaded prompt `name`, if there is one.
    pub async fn get_prompt(&self, name: &str) -> Result<Option<Vec<u8>>, SchemaError> {
        Ok(
            sqlx::query_scalar::<_, Vec<u8>>("SELECT wav FROM prompts WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Stores (or replaces) the uploaded prompt `name`.
    ///
    /// Fails with [`SchemaError::Invalid`] for a name outside `[a-z0-9_]{1,40}` (field `name`) and for
    /// empty audio or more than [`MAX_PROMPT_BYTES`] (field `body`). The bytes are not decoded here.
    pub async fn put_prompt(&self, name: &str, wav: &[u8]) -> Result<PromptInfo, SchemaError> {
        check_upload_name(name)?;
        if wav.is_empty() || wav.len() > MAX_PROMPT_BYTES {
            return Err(SchemaError::invalid(
                "body",
                format!(
                    "a prompt is 1 byte to {} MB, got {} bytes",
                    MAX_PROMPT_BYTES >> 20,
                    wav.len()
                ),
            ));
        }
        let uploaded_at = unix_now();
        let mut tx = self.begin_config_write().await?;
        sqlx::query(
            "INSERT INTO prompts (name, wav, uploaded_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET wav = excluded.wav, uploaded_at = excluded.uploaded_at",
        )
        .bind(name)
        .bind(wav)
        .bind(uploaded_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(name, bytes = wav.len(), "prompt uploaded");
        Ok(PromptInfo {
            name: name.to_owned(),
            size_bytes: i64::try_from(wav.len()).unwrap_or(i64::MAX),
            uploaded_at,
        })
    }

    /// Removes the uploaded prompt `name` (the built-in one of that name, if any, applies again).
    /// Returns whether there was one.
    pub async fn delete_prompt(&self, name: &str) -> Result<bool, SchemaError> {
        let mut tx = self.begin_config_write().await?;
        let removed = sqlx::query("DELETE FROM prompts WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        if removed {
            tracing::info!(name, "uploaded prompt removed");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names() {
        for ok in ["welcome", "num_20", "a", &"x".repeat(40)] {
            assert!(check_upload_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Welcome", "a-b", "a.wav", "../x", "æ", &"x".repeat(41)] {
            assert!(check_upload_name(bad).is_err(), "{bad:?}");
        }
    }
}
