//! What the call-routing tables share: the change notice, the configuration write lock,
//! routing targets, and the field checks every configuration write runs.

use sqlx::{Any, Transaction};

use crate::{Db, SchemaError};

/// Which part of the call-routing configuration an admin changed.
///
/// The admin API sends one after every successful write so that running call control can
/// reload just that part instead of polling the database. Writes made elsewhere (another
/// node, the CLI, psql) send nothing; [`Db::config_version`] catches those.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigChanged {
    /// A switch-wide setting, e.g. the main number.
    Settings,
    /// This user's call settings (also sent when the user was created or removed).
    UserCallSettings(String),
    /// The public numbers.
    Numbers,
    /// Hunt groups or their members (also sent when a user was removed: memberships cascade).
    HuntGroups,
    /// The trunks.
    Trunks,
    /// ACD queues or their members.
    Queues,
    /// Voice menus.
    Menus,
    /// This uploaded prompt was added, replaced or removed (removal brings the built-in one back).
    Prompt(String),
    /// Schedules (opening hours) or their emergency overrides.
    Schedules,
}

/// Declares an enum stored as TEXT: its variants, their database spelling, and the
/// conversions both ways. Serde spells the variants in snake_case, which must match the
/// database spelling (a unit test checks every variant).
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling in the database and in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant spelled `text`, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Decodes a column; a spelling the CHECK constraint should have refused is a
            /// decoding error, not a panic.
            pub(crate) fn from_db(text: &str) -> Result<$name, sqlx::Error> {
                $name::parse(text).ok_or_else(|| {
                    sqlx::Error::Decode(
                        format!("unknown {} {text:?} in the database", stringify!($name)).into(),
                    )
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum! {
    /// What a public number, a hunt group's no-answer rule or a call record points at. The
    /// reference that goes with it (`target_ref`) is TEXT: a username, a hunt group id, a queue
    /// id, a menu id or a prompt name.
    pub enum TargetKind {
        /// A user; the reference is the username (extension).
        User => "user",
        /// A hunt group; the reference is its id in decimal.
        HuntGroup => "hunt_group",
        /// A queue; the reference is its id in decimal.
        Queue => "queue",
        /// A voice menu; the reference is its id in decimal.
        Menu => "menu",
        /// A recorded message, then hang up; the reference is the prompt's name.
        Message => "message",
    }
}

/// Longest prompt name, hunt group or trunk name, label.
pub(crate) const MAX_NAME_CHARS: usize = 64;
pub(crate) const MAX_LABEL_CHARS: usize = 200;

impl Db {
    /// Begins a transaction for a configuration write and bumps the configuration version as
    /// its first statement.
    ///
    /// Why first: that write takes SQLite's write lock or PostgreSQL's row lock on the one
    /// `config_version` row, and holds it to commit, so configuration writers run one at a
    /// time on every backend and node. The reference checks that follow ("is this user there",
    /// "does a number still point at this group") then cannot race a concurrent write, and on
    /// SQLite no read-then-write lock upgrade can fail with "database is locked".
    pub(crate) async fn begin_config_write(
        &self,
    ) -> Result<Transaction<'static, Any>, SchemaError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO config_version (id, version) VALUES (1, 1) \
             ON CONFLICT (id) DO UPDATE SET version = config_version.version + 1",
        )
        .execute(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// The configuration version: grows by at least one with every committed configuration
    /// write (settings, call settings, numbers, hunt groups, trunks, user removal). A node
    /// polls it to notice changes that other nodes or the CLI made.
    pub async fn config_version(&self) -> Result<i64, SchemaError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT version FROM config_version WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }
}

/// Checks that `target_ref` is a valid reference for `kind` and that what it names exists.
///
/// `kind_field`/`ref_field` are the JSON field names for error messages. `own_group` is the
/// hunt group being updated when checking its no-answer target: pointing at itself, or at a
/// group whose no-answer chain leads back to it, would make a call loop forever, so both are
/// refused. Queue and menu ids are checked for shape only here (numbers may be set up before their
/// queue); the citizen's-path targets (closed targets, queue overflow) use
/// `queues::check_target_exists`, which also checks that they exist.
pub(crate) async fn check_target(
    tx: &mut Transaction<'static, Any>,
    ref_field: &str,
    kind: TargetKind,
    target_ref: &str,
    own_group: Option<i64>,
) -> Result<(), SchemaError> {
    match kind {
        TargetKind::User => {
            let found = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
                .bind(target_ref)
                .fetch_optional(&mut **tx)
                .await?;
            if found.is_none() {
                return Err(SchemaError::invalid(
                    ref_field,
                    format!("there is no user {target_ref:?}"),
                ));
            }
        }
        TargetKind::HuntGroup => {
            let id = parse_id(ref_field, target_ref, "hunt group")?;
            if own_group == Some(id) {
                return Err(SchemaError::invalid(
                    ref_field,
                    "a hunt group cannot be its own no-answer target",
                ));
            }
            if !hunt_group_exists(tx, id).await? {
                return Err(SchemaError::invalid(
                    ref_field,
                    format!("there is no hunt group {id}"),
                ));
            }
            if let Some(own) = own_group {
                check_no_loop(tx, ref_field, own, id).await?;
            }
        }
        TargetKind::Queue => {
            parse_id(ref_field, target_ref, "queue")?;
        }
        TargetKind::Menu => {
            parse_id(ref_field, target_ref, "menu")?;
        }
        TargetKind::Message => check_prompt_name(ref_field, target_ref)?,
    }
    Ok(())
}

async fn hunt_group_exists(
    tx: &mut Transaction<'static, Any>,
    id: i64,
) -> Result<bool, SchemaError> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT id FROM hunt_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// Follows the no-answer chain from `start` and refuses it if it reaches `own`.
async fn check_no_loop(
    tx: &mut Transaction<'static, Any>,
    field: &str,
    own: i64,
    start: i64,
) -> Result<(), SchemaError> {
    let mut path = vec![own, start];
    let mut current = start;
    // Every group appears at most once on a loop-free chain, so the chain is at most as long
    // as there are groups; the cap only guards against a loop that does not pass `own`
    // (impossible through this API, but psql could make one).
    for _ in 0..10_000 {
        let next = sqlx::query_as::<_, (Option<String>, Option<String>)>(
            "SELECT no_answer_kind, no_answer_ref FROM hunt_groups WHERE id = $1",
        )
        .bind(current)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((Some(kind), Some(reference))) = next else {
            return Ok(());
        };
        if kind != TargetKind::HuntGroup.as_str() {
            return Ok(());
        }
        let Ok(next) = reference.parse::<i64>() else {
            return Ok(());
        };
        path.push(next);
        if next == own {
            let chain: Vec<String> = path.iter().map(i64::to_string).collect();
            return Err(SchemaError::invalid(
                field,
                format!(
                    "unanswered calls would go round in a loop: hunt groups {}",
                    chain.join(" → ")
                ),
            ));
        }
        if path[..path.len() - 1].contains(&next) {
            return Ok(());
        }
        current = next;
    }
    Ok(())
}

/// What still points at the target `(kind, target_ref)`: public numbers and hunt groups'
/// no-answer rules, described for an error message. Empty when nothing does.
pub(crate) async fn referrers(
    tx: &mut Transaction<'static, Any>,
    kind: TargetKind,
    target_ref: &str,
) -> Result<Vec<String>, SchemaError> {
    let numbers = sqlx::query_scalar::<_, String>(
        "SELECT number FROM public_numbers WHERE target_kind = $1 AND target_ref = $2 \
         ORDER BY number",
    )
    .bind(kind.as_str())
    .bind(target_ref)
    .fetch_all(&mut **tx)
    .await?;
    let groups = sqlx::query_as::<_, (i64, String)>(
        "SELECT id, name FROM hunt_groups WHERE no_answer_kind = $1 AND no_answer_ref = $2 \
         ORDER BY id",
    )
    .bind(kind.as_str())
    .bind(target_ref)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: Vec<String> = numbers
        .into_iter()
        .map(|n| format!("public number {n}"))
        .collect();
    out.extend(
        groups
            .into_iter()
            .map(|(id, name)| format!("the no-answer rule of hunt group {id} ({name:?})")),
    );
    // The citizen's path (migration 0003): closed targets, queue overflow, menu options.
    out.extend(crate::queues::citizen_referrers(tx, kind, target_ref).await?);
    Ok(out)
}

/// A positive id written in canonical decimal (`"7"`, not `"07"` or `"+7"`), so that the
/// TEXT reference compares equal to what [`referrers`] looks for.
pub(crate) fn parse_id(field: &str, text: &str, what: &str) -> Result<i64, SchemaError> {
    match text.parse::<i64>() {
        Ok(id) if id > 0 && id.to_string() == text => Ok(id),
        _ => Err(SchemaError::invalid(
            field,
            format!("must be a {what} id (a positive whole number), got {text:?}"),
        )),
    }
}

/// A prompt is a file in the node's prompt directory: letters, digits, `_`, `-` and `.`,
/// not starting with `.`, so that no name can climb out of that directory.
pub(crate) fn check_prompt_name(field: &str, name: &str) -> Result<(), SchemaError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            field,
            format!(
                "must be a prompt name: 1 to {MAX_NAME_CHARS} letters, digits, '_', '-' or '.', \
                 not starting with '.'"
            ),
        ))
    }
}

/// A name people type and read (hunt group, trunk): 1 to `max` characters, no control
/// characters, no leading or trailing spaces (two names differing only there would look
/// the same in a list).
pub(crate) fn check_name(field: &str, value: &str, max: usize) -> Result<(), SchemaError> {
    if value.trim().is_empty() {
        return Err(SchemaError::invalid(field, "must not be empty"));
    }
    if value.trim() != value {
        return Err(SchemaError::invalid(
            field,
            "must not start or end with spaces",
        ));
    }
    check_text(field, value, max)
}

/// Free text (a label): at most `max` characters, no control characters.
pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), SchemaError> {
    if value.chars().count() > max {
        return Err(SchemaError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(SchemaError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An E.164 number in its stored form (see [`crate::users::is_e164`]).
pub(crate) fn check_e164(field: &str, value: &str) -> Result<(), SchemaError> {
    if crate::users::is_e164(value) {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            field,
            format!("{value:?} is not an E.164 number ('+', then 8 to 15 digits, no leading 0)"),
        ))
    }
}

/// `lo <= value <= hi`.
pub(crate) fn check_range(field: &str, value: i64, lo: i64, hi: i64) -> Result<(), SchemaError> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            field,
            format!("must be between {lo} and {hi}, got {value}"),
        ))
    }
}

/// Reads a 0/1 column as a bool.
pub(crate) fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// `true` for serde defaults of flags that default to on.
pub(crate) fn yes() -> bool {
    true
}

impl Db {
    /// Deletes row `id` of `table` (a routing target of `kind`: a hunt group, queue or menu) unless a
    /// number, rule or menu still routes to it. Returns whether it existed; fails with
    /// [`SchemaError::InUse`] (deleting nothing) while something refers to it.
    pub(crate) async fn delete_target(
        &self,
        table: &'static str,
        kind: TargetKind,
        id: i64,
        what: &str,
    ) -> Result<bool, SchemaError> {
        let mut tx = self.begin_config_write().await?;
        let removed = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        if removed {
            let refs = referrers(&mut tx, kind, &id.to_string()).await?;
            if !refs.is_empty() {
                tx.rollback().await?;
                return Err(SchemaError::InUse(format!(
                    "{what} {id} still receives calls from {}",
                    refs.join(", ")
                )));
            }
        }
        tx.commit().await?;
        if removed {
            tracing::info!(id, "{what} deleted");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kind_spelling_matches_serde() {
        for kind in TargetKind::ALL {
            let json = serde_json::to_value(kind).expect("serialise");
            assert_eq!(json, kind.as_str());
            assert_eq!(TargetKind::parse(kind.as_str()), Some(*kind));
        }
        assert_eq!(TargetKind::parse("User"), None);
    }

    #[test]
    fn ids_must_be_canonical() {
        assert_eq!(parse_id("f", "7", "x").ok(), Some(7));
        for bad in [
            "0",
            "-1",
            "07",
            "+7",
            " 7",
            "7a",
            "",
            "99999999999999999999",
        ] {
            assert!(parse_id("f", bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prompt_names_stay_in_their_directory() {
        for ok in ["closed", "helse-closed_2", "welcome.nb"] {
            assert!(check_prompt_name("f", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "a/b",
            ".hidden",
            "with space",
            &"a".repeat(65),
        ] {
            assert!(check_prompt_name("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_text() {
        assert!(check_name("name", "Sentralbord", 64).is_ok());
        assert!(check_name("name", "Helse og omsorg", 64).is_ok());
        for bad in ["", "   ", " lead", "trail ", "tab\there", &"x".repeat(65)] {
            let err = check_name("name", bad, 64).expect_err(bad);
            assert!(
                matches!(&err, SchemaError::Invalid { field, .. } if field == "name"),
                "{err:?}"
            );
        }
        assert!(check_text("label", "", 10).is_ok());
        assert!(check_text("label", "ÆØÅ æøå", 10).is_ok());
        assert!(check_text("label", "line\nbreak", 100).is_err());
    }

    #[test]
    fn ranges() {
        assert!(check_range("f", 1, 1, 10).is_ok());
        assert!(check_range("f", 10, 1, 10).is_ok());
        assert!(check_range("f", 0, 1, 10).is_err());
        assert!(check_range("f", 11, 1, 10).is_err());
    }
}
