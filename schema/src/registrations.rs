//! Persisted registrar bindings.
//!
//! The registrar owns the live bindings in memory and sends this module
//! batches of changes. [`Db::apply_registration_changes`] gives a batch the
//! same result as applying its changes one by one in order, but runs it as one
//! transaction of a few multi-row statements:
//!
//! 1. the batch is folded into its net effect: which `(aor, contact_uri)`
//!    keys and which whole AORs to delete, and the last upsert of every key
//!    that no later removal cancels;
//! 2. all deletions run first, then all upserts, in chunks of up to
//!    [`CHUNK_SIZES`]`[0]` rows per statement.
//!
//! Deleting first is what makes the reordering safe: an upsert that survives
//! the fold happened after every removal that touches its key.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Backend, Db, SchemaError};

/// One persisted binding of an address of record to a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRegistration {
    /// The address of record: the user's username (extension).
    pub aor: String,
    /// The contact URI (without parameters); with `aor` the key.
    pub contact_uri: String,
    /// The whole Contact header value as received, parameters included.
    pub contact_value: String,
    /// When the binding expires, unix seconds.
    pub expires_at: i64,
    /// The contact's `q` value times 1000 (`q=0.5` is 500; no `q` is 1000).
    pub q_milli: i64,
    /// The Call-ID of the REGISTER that made or refreshed the binding.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: i64,
    /// The transport it arrived on, e.g. `"udp"`, `"tcp"`, `"tls"`, `"wss"`.
    pub transport: String,
    /// The address it arrived from, `"ip:port"`.
    pub source: String,
    /// The User-Agent header, if any.
    pub user_agent: Option<String>,
}

/// One change to the persisted bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationChange {
    /// Insert the binding, or replace the one with the same
    /// `(aor, contact_uri)`.
    Upsert(StoredRegistration),
    /// Delete one binding (a REGISTER with `Expires: 0` for that contact, or
    /// the binding expired).
    Remove {
        /// The address of record.
        aor: String,
        /// The contact URI.
        contact_uri: String,
    },
    /// Delete every binding of the AOR (`Contact: *`).
    RemoveAll {
        /// The address of record.
        aor: String,
    },
}

/// Rows per statement, largest first. A batch is cut into chunks of these
/// sizes, so at most this many distinct statements exist per kind and every
/// one of them stays in the connection's prepared-statement cache. The
/// largest binds 2,560 parameters, well under both SQLite's and PostgreSQL's
/// limits.
const CHUNK_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

const REGISTRATION_COLUMNS: &str = "aor, contact_uri, contact_value, expires_at, q_milli, \
     call_id, cseq, transport, source, user_agent";
const REGISTRATION_COLUMN_COUNT: usize = 10;

/// Placeholder style of the generated batch statements.
///
/// Everything else in this crate uses `$N`, which both backends accept. The
/// batch statements use plain `?` on SQLite: sqlx's SQLite driver looks up
/// the name of every numbered parameter when binding, and SQLite's lookup is
/// linear in the number of parameters, which makes binding a statement with
/// `p` numbered parameters cost O(p²). With 2,560 parameters per statement
/// that was half the time of a 10,000-row batch; anonymous `?` parameters
/// have no names to look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `$1, $2, ...` (PostgreSQL requires it).
    Numbered,
    /// `?, ?, ...` (SQLite, bound in order).
    Anonymous,
}

/// `($1, $2, ...), ($n, ...)`: `rows` groups of `per_row` placeholders.
fn placeholders(style: Placeholders, rows: usize, per_row: usize) -> String {
    let mut sql = String::with_capacity(rows * per_row * 5);
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for col in 0..per_row {
            if col > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match style {
                Placeholders::Numbered => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                Placeholders::Anonymous => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// The batch statements of one backend, one per entry of [`CHUNK_SIZES`]
/// for each kind.
struct BatchStatements {
    upsert: [String; CHUNK_SIZES.len()],
    delete_contacts: [String; CHUNK_SIZES.len()],
    delete_aors: [String; CHUNK_SIZES.len()],
}

impl BatchStatements {
    fn new(style: Placeholders) -> BatchStatements {
        BatchStatements {
            upsert: CHUNK_SIZES.map(|rows| {
                format!(
                    "INSERT INTO registrations ({REGISTRATION_COLUMNS}) VALUES {} \
                     ON CONFLICT (aor, contact_uri) DO UPDATE SET \
                     contact_value = excluded.contact_value, expires_at = excluded.expires_at, \
                     q_milli = excluded.q_milli, call_id = excluded.call_id, \
                     cseq = excluded.cseq, transport = excluded.transport, \
                     source = excluded.source, user_agent = excluded.user_agent",
                    placeholders(style, rows, REGISTRATION_COLUMN_COUNT)
                )
            }),
            delete_contacts: CHUNK_SIZES.map(|rows| {
                format!(
                    "DELETE FROM registrations WHERE (aor, contact_uri) IN (VALUES {})",
                    placeholders(style, rows, 2)
                )
            }),
            // `aor IN ($1, $2, ...)`: one group of `rows` placeholders.
            delete_aors: CHUNK_SIZES.map(|rows| {
                format!(
                    "DELETE FROM registrations WHERE aor IN {}",
                    placeholders(style, 1, rows)
                )
            }),
        }
    }

    fn of(backend: Backend) -> &'static BatchStatements {
        static SQLITE: LazyLock<BatchStatements> =
            LazyLock::new(|| BatchStatements::new(Placeholders::Anonymous));
        static POSTGRES: LazyLock<BatchStatements> =
            LazyLock::new(|| BatchStatements::new(Placeholders::Numbered));
        match backend {
            Backend::Sqlite => &SQLITE,
            Backend::Postgres => &POSTGRES,
        }
    }
}

/// Cuts `items` into chunks whose lengths are taken from [`CHUNK_SIZES`],
/// largest first; yields each chunk with the index of its size.
fn chunks<T>(mut items: &[T]) -> impl Iterator<Item = (usize, &[T])> {
    std::iter::from_fn(move || {
        let index = CHUNK_SIZES.iter().position(|&size| size <= items.len())?;
        let (chunk, rest) = items.split_at(CHUNK_SIZES[index]);
        items = rest;
        Some((index, chunk))
    })
}

/// The net effect of a batch.
#[derive(Debug, Default, PartialEq)]
struct Plan<'a> {
    /// AORs whose bindings all go.
    remove_aors: Vec<&'a str>,
    /// Single bindings that go (none of them under an AOR in `remove_aors`).
    remove_contacts: Vec<(&'a str, &'a str)>,
    /// Final upserts, one per key, in the order of their last occurrence.
    upserts: Vec<&'a StoredRegistration>,
}

impl<'a> Plan<'a> {
    fn new(changes: &'a [RegistrationChange]) -> Plan<'a> {
        // Position of the last upsert per key, last Remove per key and last
        // RemoveAll per AOR; an upsert survives if it comes after both.
        let mut last_upsert: HashMap<(&str, &str), usize> = HashMap::new();
        let mut last_remove: HashMap<(&str, &str), usize> = HashMap::new();
        let mut last_remove_all: HashMap<&str, usize> = HashMap::new();
        let mut remove_aors = Vec::new();
        let mut remove_contacts = Vec::new();
        for (pos, change) in changes.iter().enumerate() {
            match change {
                RegistrationChange::Upsert(reg) => {
                    last_upsert.insert((reg.aor.as_str(), reg.contact_uri.as_str()), pos);
                }
                RegistrationChange::Remove { aor, contact_uri } => {
                    let key = (aor.as_str(), contact_uri.as_str());
                    if last_remove.insert(key, pos).is_none() {
                        remove_contacts.push(key);
                    }
                }
                RegistrationChange::RemoveAll { aor } => {
                    if last_remove_all.insert(aor.as_str(), pos).is_none() {
                        remove_aors.push(aor.as_str());
                    }
                }
            }
        }
        let aors: HashSet<&str> = remove_aors.iter().copied().collect();
        remove_contacts.retain(|(aor, _)| !aors.contains(aor));

        let mut upserts = Vec::with_capacity(last_upsert.len());
        for (pos, change) in changes.iter().enumerate() {
            let RegistrationChange::Upsert(reg) = change else {
                continue;
            };
            let key = (reg.aor.as_str(), reg.contact_uri.as_str());
            let is_last = last_upsert.get(&key) == Some(&pos);
            let removed_later = last_remove.get(&key).is_some_and(|&r| r > pos)
                || last_remove_all
                    .get(reg.aor.as_str())
                    .is_some_and(|&r| r > pos);
            if is_last && !removed_later {
                upserts.push(reg);
            }
        }
        Plan {
            remove_aors,
            remove_contacts,
            upserts,
        }
    }

    async fn execute(
        &self,
        backend: Backend,
        tx: &mut Transaction<'_, Any>,
    ) -> Result<(), sqlx::Error> {
        let sql = BatchStatements::of(backend);
        for (index, chunk) in chunks(&self.remove_aors) {
            let mut query = sqlx::query(sql.delete_aors[index].as_str());
            for aor in chunk {
                query = query.bind(*aor);
            }
            query.execute(&mut **tx).await?;
        }
        for (index, chunk) in chunks(&self.remove_contacts) {
            let mut query = sqlx::query(sql.delete_contacts[index].as_str());
            for (aor, contact_uri) in chunk {
                query = query.bind(*aor).bind(*contact_uri);
            }
            query.execute(&mut **tx).await?;
        }
        for (index, chunk) in chunks(&self.upserts) {
            let mut query = sqlx::query(sql.upsert[index].as_str());
            for reg in chunk {
                query = query
                    .bind(reg.aor.as_str())
                    .bind(reg.contact_uri.as_str())
                    .bind(reg.contact_value.as_str())
                    .bind(reg.expires_at)
                    .bind(reg.q_milli)
                    .bind(reg.call_id.as_str())
                    .bind(reg.cseq)
                    .bind(reg.transport.as_str())
                    .bind(reg.source.as_str())
                    .bind(reg.user_agent.as_deref());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

fn registration_from_row(row: &AnyRow) -> Result<StoredRegistration, sqlx::Error> {
    Ok(StoredRegistration {
        aor: row.try_get("aor")?,
        contact_uri: row.try_get("contact_uri")?,
        contact_value: row.try_get("contact_value")?,
        expires_at: row.try_get("expires_at")?,
        q_milli: row.try_get("q_milli")?,
        call_id: row.try_get("call_id")?,
        cseq: row.try_get("cseq")?,
        transport: row.try_get("transport")?,
        source: row.try_get("source")?,
        user_agent: row.try_get("user_agent")?,
    })
}

impl Db {
    /// Every binding that has not expired at `now_unix` (`expires_at >
    /// now_unix`), ordered by AOR then contact URI: for refilling the
    /// registrar at start. Expired rows are left alone; see
    /// [`Db::purge_expired_registrations`].
    pub async fn load_registrations(
        &self,
        now_unix: i64,
    ) -> Result<Vec<StoredRegistration>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations \
             WHERE expires_at > $1 ORDER BY aor, contact_uri"
        ))
        .bind(now_unix)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(registration_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Applies a batch of changes in one transaction: either all of them are
    /// stored or, on error, none.
    ///
    /// The result is the same as applying the changes one by one in order
    /// (a later change to the same binding wins), but the batch runs as a
    /// few multi-row statements, so thousands of changes take one commit.
    pub async fn apply_registration_changes(
        &self,
        changes: &[RegistrationChange],
    ) -> Result<(), SchemaError> {
        if changes.is_empty() {
            return Ok(());
        }
        let plan = Plan::new(changes);
        let mut tx = self.pool.begin().await?;
        plan.execute(self.backend, &mut tx).await?;
        tx.commit().await?;
        tracing::debug!(
            changes = changes.len(),
            upserts = plan.upserts.len(),
            removed_contacts = plan.remove_contacts.len(),
            removed_aors = plan.remove_aors.len(),
            "registration batch stored"
        );
        Ok(())
    }

    /// Deletes the bindings that have expired at `now_unix` (`expires_at <=
    /// now_unix`) and returns how many. Housekeeping: run it at start or now
    /// and then, since the registrar does not always send a `Remove` for an
    /// expiry.
    pub async fn purge_expired_registrations(&self, now_unix: i64) -> Result<u64, SchemaError> {
        let result = sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(now_unix)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(aor: &str, uri: &str, cseq: i64) -> StoredRegistration {
        StoredRegistration {
            aor: aor.into(),
            contact_uri: uri.into(),
            contact_value: format!("<{uri}>"),
            expires_at: 100,
            q_milli: 1000,
            call_id: "c".into(),
            cseq,
            transport: "udp".into(),
            source: "10.0.0.1:5060".into(),
            user_agent: None,
        }
    }

    fn up(aor: &str, uri: &str, cseq: i64) -> RegistrationChange {
        RegistrationChange::Upsert(reg(aor, uri, cseq))
    }

    fn rm(aor: &str, uri: &str) -> RegistrationChange {
        RegistrationChange::Remove {
            aor: aor.into(),
            contact_uri: uri.into(),
        }
    }

    fn rm_all(aor: &str) -> RegistrationChange {
        RegistrationChange::RemoveAll { aor: aor.into() }
    }

    #[test]
    fn placeholders_are_numbered() {
        use Placeholders::{Anonymous, Numbered};
        assert_eq!(placeholders(Numbered, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(Numbered, 1, 2), "($1, $2)");
        assert_eq!(placeholders(Anonymous, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn chunks_cover_everything_with_known_sizes() {
        for n in [0, 1, 3, 4, 5, 255, 256, 257, 1000, 10_000] {
            let items: Vec<usize> = (0..n).collect();
            let mut seen = Vec::new();
            for (index, chunk) in chunks(&items) {
                assert_eq!(chunk.len(), CHUNK_SIZES[index]);
                seen.extend_from_slice(chunk);
            }
            assert_eq!(seen, items);
        }
    }

    #[test]
    fn last_upsert_wins() {
        let changes = [up("1", "a", 1), up("1", "a", 2), up("1", "b", 1)];
        let plan = Plan::new(&changes);
        let cseqs: Vec<(&str, i64)> = plan
            .upserts
            .iter()
            .map(|r| (r.contact_uri.as_str(), r.cseq))
            .collect();
        assert_eq!(cseqs, [("a", 2), ("b", 1)]);
    }

    #[test]
    fn removal_cancels_earlier_upserts_only() {
        let changes = [
            up("1", "a", 1),
            rm("1", "a"),
            up("2", "a", 1),
            rm_all("2"),
            up("2", "b", 2),
            rm("3", "x"),
            up("3", "x", 3),
        ];
        let plan = Plan::new(&changes);
        let kept: Vec<(&str, &str)> = plan
            .upserts
            .iter()
            .map(|r| (r.aor.as_str(), r.contact_uri.as_str()))
            .collect();
        assert_eq!(kept, [("2", "b"), ("3", "x")]);
        assert_eq!(plan.remove_aors, ["2"]);
        assert_eq!(plan.remove_contacts, [("1", "a"), ("3", "x")]);
    }

    #[test]
    fn contact_removals_under_a_removed_aor_are_dropped() {
        let changes = [
            rm("1", "a"),
            rm("1", "a"),
            rm_all("1"),
            rm_all("1"),
            rm("2", "b"),
        ];
        let plan = Plan::new(&changes);
        assert_eq!(plan.remove_aors, ["1"]);
        assert_eq!(plan.remove_contacts, [("2", "b")]);
        assert!(plan.upserts.is_empty());
    }
}
