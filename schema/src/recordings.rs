//! Call recordings (`recordings`): one row per WAV file call control recorded, written when the
//! recording starts ([`Db::recording_started`]) and completed when its file is
//! ([`Db::recording_finished`]).
//!
//! The audio stays on disk in the node's recordings directory; the row holds only the file's name,
//! which [`check_recording_file_name`] keeps to a plain name so that whoever joins it to the
//! directory can never be led outside it. Like call records, recordings are not configuration:
//! their writes do not take the configuration lock.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::config::{check_text, text_enum};
use crate::{Db, SchemaError};

/// Longest file name of a recording.
pub const MAX_RECORDING_FILE_NAME: usize = 200;
/// Most recordings one [`Db::list_recordings`] page returns.
pub const MAX_RECORDING_PAGE: i64 = 1000;

text_enum! {
    /// How a recording lays out the call's two directions.
    pub enum RecordingLayout {
        /// Both sides summed into one channel.
        Mixed => "mixed",
        /// Two channels: the caller left, the answering party right.
        Stereo => "stereo",
    }
}

/// A stored recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recording {
    /// Database id.
    pub id: i64,
    /// SIP Call-ID of the call's inbound leg (as in its call record).
    pub call_id: String,
    /// The call's record, if it was written when the recording started.
    pub cdr_id: Option<i64>,
    /// The WAV file's name in the recordings directory.
    pub file_name: String,
    pub layout: RecordingLayout,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    /// Unix milliseconds; `None` while recording.
    pub ended_at_ms: Option<i64>,
    /// Size of the finished file: `None` while recording (or for a recording the node stopped
    /// before finishing it), 0 when it could not be written.
    pub bytes: Option<i64>,
}

/// What is known when a recording starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    pub call_id: String,
    /// See [`check_recording_file_name`].
    pub file_name: String,
    pub layout: RecordingLayout,
    /// Unix milliseconds.
    pub started_at_ms: i64,
}

/// Which recordings [`Db::list_recordings`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Only recordings of the call with this SIP Call-ID.
    pub call_id: Option<String>,
    /// Only recordings of this call record.
    pub cdr_id: Option<i64>,
    /// Page size, 1 to [`MAX_RECORDING_PAGE`].
    pub limit: i64,
    /// Recordings to skip, newest first.
    pub offset: i64,
}

impl Default for RecordingFilter {
    fn default() -> Self {
        RecordingFilter {
            call_id: None,
            cdr_id: None,
            limit: 100,
            offset: 0,
        }
    }
}

/// A file name safe to join to a directory: 1 to [`MAX_RECORDING_FILE_NAME`] of `A-Z a-z 0-9 . _ -`,
/// not starting with a dot (so neither `..` nor a hidden file), ending in `.wav`.
pub fn check_recording_file_name(name: &str) -> Result<(), SchemaError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_RECORDING_FILE_NAME
        && !name.starts_with('.')
        && name.ends_with(".wav")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            "file_name",
            format!(
                "must be 1 to {MAX_RECORDING_FILE_NAME} of A-Z, a-z, 0-9, '.', '_' and '-', \
                 not start with '.', and end in .wav; got {name:?}"
            ),
        ))
    }
}

const COLUMNS: &str = "id, call_id, cdr_id, file_name, layout, started_at_ms, ended_at_ms, bytes";

fn from_row(row: &AnyRow) -> Result<Recording, sqlx::Error> {
    Ok(Recording {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        cdr_id: row.try_get("cdr_id")?,
        file_name: row.try_get("file_name")?,
        layout: RecordingLayout::from_db(row.try_get::<String, _>("layout")?.as_str())?,
        started_at_ms: row.try_get("started_at_ms")?,
        ended_at_ms: row.try_get("ended_at_ms")?,
        bytes: row.try_get("bytes")?,
    })
}

impl Db {
    /// Notes a recording that starts now, linked to the newest call record with its Call-ID if
    /// there is one. Fails with [`SchemaError::Invalid`] for a bad file name (`file_name`), an empty
    /// or overlong Call-ID (`call_id`) or a negative time, and [`SchemaError::Conflict`] when the
    /// file name is taken.
    pub async fn recording_started(&self, new: &NewRecording) -> Result<Recording, SchemaError> {
        check_recording_file_name(&new.file_name)?;
        check_text("call_id", &new.call_id, 256)?;
        if new.call_id.is_empty() {
            return Err(SchemaError::invalid("call_id", "must not be empty"));
        }
        if new.started_at_ms < 0 {
            return Err(SchemaError::invalid(
                "started_at_ms",
                "must not be negative",
            ));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO recordings (call_id, cdr_id, file_name, layout, started_at_ms) \
             VALUES ($1, (SELECT MAX(id) FROM cdrs WHERE call_id = $1), $2, $3, $4) \
             RETURNING {COLUMNS}"
        ))
        .bind(new.call_id.as_str())
        .bind(new.file_name.as_str())
        .bind(new.layout.as_str())
        .bind(new.started_at_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if SchemaError::is_unique_violation(&e) {
                SchemaError::Conflict(format!("recording file {} exists", new.file_name))
            } else {
                e.into()
            }
        })?;
        Ok(from_row(&row)?)
    }

    /// Completes a recording whose file is written (`bytes` 0: it could not be). Fails with
    /// [`SchemaError::NotFound`] for an unknown id, [`SchemaError::Conflict`] if it was already
    /// completed, and [`SchemaError::Invalid`] for an end before the start or negative bytes.
    pub async fn recording_finished(
        &self,
        id: i64,
        ended_at_ms: i64,
        bytes: i64,
    ) -> Result<Recording, SchemaError> {
        if bytes < 0 {
            return Err(SchemaError::invalid("bytes", "must not be negative"));
        }
        let row = sqlx::query(&format!(
            "UPDATE recordings SET ended_at_ms = $2, bytes = $3 \
             WHERE id = $1 AND ended_at_ms IS NULL AND $2 >= started_at_ms RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(ended_at_ms)
        .bind(bytes)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            return Ok(from_row(&row)?);
        }
        Err(match self.get_recording(id).await? {
            None => SchemaError::NotFound(format!("no recording {id}")),
            Some(r) if r.ended_at_ms.is_some() => {
                SchemaError::Conflict(format!("recording {id} has already ended"))
            }
            Some(_) => SchemaError::invalid("ended_at_ms", "must not be before the start"),
        })
    }

    /// Ends every recording still marked as running, at `ended_at_ms` (or its start, if later),
    /// with unknown size: at start-up, for recordings a stopped node never finished. Returns how
    /// many there were.
    pub async fn close_unfinished_recordings(&self, ended_at_ms: i64) -> Result<u64, SchemaError> {
        Ok(sqlx::query(
            "UPDATE recordings SET ended_at_ms = CASE WHEN started_at_ms > $1 THEN started_at_ms \
             ELSE $1 END WHERE ended_at_ms IS NULL",
        )
        .bind(ended_at_ms)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// One recording.
    pub async fn get_recording(&self, id: i64) -> Result<Option<Recording>, SchemaError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM recordings WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    /// Recordings matching `filter`, newest first.
    pub async fn list_recordings(
        &self,
        filter: &RecordingFilter,
    ) -> Result<Vec<Recording>, SchemaError> {
        if !(1..=MAX_RECORDING_PAGE).contains(&filter.limit) {
            return Err(SchemaError::invalid(
                "limit",
                format!("must be 1 to {MAX_RECORDING_PAGE}"),
            ));
        }
        if filter.offset < 0 {
            return Err(SchemaError::invalid("offset", "must not be negative"));
        }
        // NULL filters match everything, so one statement serves every combination.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM recordings \
             WHERE ($1 IS NULL OR call_id = $1) AND ($2 IS NULL OR cdr_id = $2) \
             ORDER BY started_at_ms DESC, id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(filter.call_id.as_deref())
        .bind(filter.cdr_id)
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Removes a recording's row (its file is the caller's to remove). Returns the removed row.
    pub async fn delete_recording(&self, id: i64) -> Result<Option<Recording>, SchemaError> {
        let row = sqlx::query(&format!(
            "DELETE FROM recordings WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        for ok in [
            "a.wav",
            "abc-123_x.y.wav",
            &format!("{}.wav", "x".repeat(196)),
        ] {
            assert!(check_recording_file_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".wav",
            "..wav",
            "../a.wav",
            "a/b.wav",
            "a\\b.wav",
            "a.mp3",
            "a b.wav",
            "æ.wav",
            "a\0.wav",
            &format!("{}.wav", "x".repeat(197)),
        ] {
            assert!(check_recording_file_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn layout_spellings() {
        for l in RecordingLayout::ALL {
            assert_eq!(RecordingLayout::parse(l.as_str()), Some(*l));
            assert_eq!(
                serde_json::to_value(l).ok(),
                Some(serde_json::json!(l.as_str()))
            );
        }
    }
}
