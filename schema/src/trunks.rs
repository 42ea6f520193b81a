//! SIP trunks to carriers (`trunks`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::config::{check_name, check_range, check_text, flag, text_enum, yes, MAX_NAME_CHARS};
use crate::{unix_now, Db, SchemaError};

/// Upper bounds that catch typos (an extra zero) without limiting real carriers.
pub const MAX_TRUNK_CPS: i64 = 10_000;
pub const MAX_TRUNK_CALLS: i64 = 100_000;
pub const MAX_OPTIONS_INTERVAL_SECS: i64 = 3600;
/// Probing more often than this only loads the carrier.
pub const MIN_OPTIONS_INTERVAL_SECS: i64 = 5;
/// Most entries in `inbound_sources` or `inbound_numbers`.
const MAX_LIST_ENTRIES: usize = 100;

text_enum! {
    /// The SIP transport towards a trunk.
    #[derive(Default)]
    pub enum TrunkTransport {
        /// UDP.
        #[default]
        Udp => "udp",
        /// TCP.
        Tcp => "tcp",
        /// TLS over TCP.
        Tls => "tls",
    }
}

/// A trunk as an admin writes it. In JSON, fields with a default may be left out.
///
/// `password_secret` is not the password: it names a file in the node's secrets directory
/// that holds it. This database is shared by the nodes, dumped and backed up; a carrier
/// password stored in it would leak with every copy, while the secrets directory stays on
/// the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrunkSpec {
    /// Unique name, e.g. "carrier".
    pub name: String,
    /// The carrier's SIP server: a DNS name or an IP address (IPv6 without brackets).
    pub host: String,
    /// Its port (default 5060).
    #[serde(default = "default_port")]
    pub port: i64,
    /// Transport (default udp).
    #[serde(default)]
    pub transport: TrunkTransport,
    /// Outbound calls try trunks by ascending priority (default 100).
    #[serde(default = "default_priority")]
    pub priority: i64,
    /// Register to the carrier (needs `username` and `password_secret`).
    #[serde(default)]
    pub register: bool,
    /// Digest user name for the carrier, if it authenticates us.
    #[serde(default)]
    pub username: Option<String>,
    /// Name of the secrets-directory file that holds the carrier password.
    #[serde(default)]
    pub password_secret: Option<String>,
    /// Digest realm, if the carrier's differs from what it challenges with.
    #[serde(default)]
    pub realm: Option<String>,
    /// CIDRs (or single addresses) whose requests are taken as from this trunk.
    #[serde(default)]
    pub inbound_sources: Vec<String>,
    /// E.164 prefixes of the numbers the trunk delivers; empty: any.
    #[serde(default)]
    pub inbound_numbers: Vec<String>,
    /// Most new calls per second towards the carrier; 0: no limit.
    #[serde(default)]
    pub max_cps: i64,
    /// Most simultaneous calls; 0: no limit.
    #[serde(default)]
    pub max_calls: i64,
    /// Seconds between OPTIONS probes; 0: no probing (default 30).
    #[serde(default = "default_options_interval")]
    pub options_interval_secs: i64,
    /// Disabled trunks are neither used nor probed (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_port() -> i64 {
    5060
}

fn default_priority() -> i64 {
    100
}

fn default_options_interval() -> i64 {
    30
}

/// A stored trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trunk {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Carrier host.
    pub host: String,
    /// Carrier port.
    pub port: i64,
    /// Transport.
    pub transport: TrunkTransport,
    /// Lower is tried first.
    pub priority: i64,
    /// Registers to the carrier.
    pub register: bool,
    /// Digest user name.
    pub username: Option<String>,
    /// Secrets-directory file name of the password.
    pub password_secret: Option<String>,
    /// Digest realm.
    pub realm: Option<String>,
    /// Source CIDRs, canonical (`127.0.0.1/32`).
    pub inbound_sources: Vec<String>,
    /// Delivered number prefixes.
    pub inbound_numbers: Vec<String>,
    /// Calls per second limit, 0: none.
    pub max_cps: i64,
    /// Concurrent calls limit, 0: none.
    pub max_calls: i64,
    /// OPTIONS interval, 0: none.
    pub options_interval_secs: i64,
    /// In use.
    pub enabled: bool,
    /// When it was created, unix seconds.
    pub created_at: i64,
}

impl TrunkSpec {
    /// Checks every field and returns the two lists in their stored, canonical form.
    fn validate(&self) -> Result<(String, String), SchemaError> {
        check_name("name", &self.name, MAX_NAME_CHARS)?;
        check_host(&self.host)?;
        check_range("port", self.port, 1, 65_535)?;
        check_range("priority", self.priority, 0, 1_000_000)?;
        for (field, value) in [("username", &self.username), ("realm", &self.realm)] {
            if let Some(value) = value {
                check_name(field, value, 128)?;
                if value.chars().any(char::is_whitespace) {
                    return Err(SchemaError::invalid(field, "must not contain spaces"));
                }
            }
        }
        if let Some(secret) = &self.password_secret {
            check_secret_name(secret)?;
        }
        if self.register {
            if self.username.is_none() {
                return Err(SchemaError::invalid(
                    "username",
                    "is required when register is true",
                ));
            }
            if self.password_secret.is_none() {
                return Err(SchemaError::invalid(
                    "password_secret",
                    "is required when register is true",
                ));
            }
        }
        check_range("max_cps", self.max_cps, 0, MAX_TRUNK_CPS)?;
        check_range("max_calls", self.max_calls, 0, MAX_TRUNK_CALLS)?;
        if self.options_interval_secs != 0 {
            check_range(
                "options_interval_secs",
                self.options_interval_secs,
                MIN_OPTIONS_INTERVAL_SECS,
                MAX_OPTIONS_INTERVAL_SECS,
            )?;
        }
        let sources = canonical_list("inbound_sources", &self.inbound_sources, canonical_cidr)?;
        let numbers = canonical_list("inbound_numbers", &self.inbound_numbers, |n| {
            let digits = n.strip_prefix('+').unwrap_or("");
            if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(n.to_owned())
            } else {
                Err(format!(
                    "{n:?} is not an E.164 prefix ('+' and 1 to 15 digits)"
                ))
            }
        })?;
        Ok((sources, numbers))
    }
}

/// A DNS name (letters, digits, '-', dot-separated labels of 1 to 63) or an IP address.
fn check_host(host: &str) -> Result<(), SchemaError> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let name = host.strip_suffix('.').unwrap_or(host);
    if !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            "host",
            format!(
                "{host:?} is neither a DNS name nor an IP address (write IPv6 without brackets)"
            ),
        ))
    }
}

/// A file name inside the secrets directory: no '/', no leading '.', so it cannot name
/// anything outside it.
fn check_secret_name(name: &str) -> Result<(), SchemaError> {
    let ok = (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(SchemaError::invalid(
            "password_secret",
            "must be the name of a file in the secrets directory (1 to 128 letters, digits, \
             '_', '-', '.', not starting with '.'), not the password itself",
        ))
    }
}

/// `addr/prefix` or a bare address, written back canonically (`addr/prefix`).
fn canonical_cidr(text: &str) -> Result<String, String> {
    let (addr, prefix) = parse_cidr(text)?;
    Ok(format!("{addr}/{prefix}"))
}

/// A network in CIDR form (`192.0.2.0/24`, `2001:db8::/32`), or one address (its whole prefix): the
/// one parser of networks, for the API's trunk sources, the node settings' `trusted_sources` and
/// call control reading them back. The prefix length is canonical decimal ("8", not "08" or "+8"),
/// as stored forms are compared.
pub fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{text:?} is not an address or CIDR such as 192.0.2.0/24"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && n.to_string() == p => n,
            _ => return Err(format!("{text:?} has a bad prefix length (0 to {max})")),
        },
    };
    Ok((addr, prefix))
}

/// Canonicalises each entry and joins them with commas (the stored form). Refuses
/// duplicates and entries that would break the comma-separated storage.
fn canonical_list(
    field: &str,
    entries: &[String],
    canonical: impl Fn(&str) -> Result<String, String>,
) -> Result<String, SchemaError> {
    if entries.len() > MAX_LIST_ENTRIES {
        return Err(SchemaError::invalid(
            field,
            format!("at most {MAX_LIST_ENTRIES} entries"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let entry_field = format!("{field}[{i}]");
        check_text(&entry_field, entry, 64)?;
        let canon = canonical(entry).map_err(|msg| SchemaError::invalid(&entry_field, msg))?;
        if out.contains(&canon) {
            return Err(SchemaError::invalid(
                &entry_field,
                format!("{canon} is listed twice"),
            ));
        }
        out.push(canon);
    }
    Ok(out.join(","))
}

fn split_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

const TRUNK_COLUMNS: &str = "id, name, host, port, transport, priority, register, username, \
     password_secret, realm, inbound_sources, inbound_numbers, max_cps, max_calls, \
     options_interval_secs, enabled, created_at";

fn trunk_from_row(row: &AnyRow) -> Result<Trunk, sqlx::Error> {
    Ok(Trunk {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        host: row.try_get("host")?,
        port: row.try_get("port")?,
        transport: TrunkTransport::from_db(row.try_get::<String, _>("transport")?.as_str())?,
        priority: row.try_get("priority")?,
        register: flag(row, "register")?,
        username: row.try_get("username")?,
        password_secret: row.try_get("password_secret")?,
        realm: row.try_get("realm")?,
        inbound_sources: split_list(&row.try_get::<String, _>("inbound_sources")?),
        inbound_numbers: split_list(&row.try_get::<String, _>("inbound_numbers")?),
        max_cps: row.try_get("max_cps")?,
        max_calls: row.try_get("max_calls")?,
        options_interval_secs: row.try_get("options_interval_secs")?,
        enabled: flag(row, "enabled")?,
        created_at: row.try_get("created_at")?,
    })
}

fn name_conflict(err: sqlx::Error, name: &str) -> SchemaError {
    if SchemaError::is_unique_violation(&err) {
        SchemaError::Conflict(format!("a trunk named {name:?} already exists"))
    } else {
        err.into()
    }
}

impl Db {
    /// All trunks in the order outbound calls try them: by priority, then name.
    pub async fn list_trunks(&self) -> Result<Vec<Trunk>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT {TRUNK_COLUMNS} FROM trunks ORDER BY priority, name"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(trunk_from_row).collect::<Result<_, _>>()?)
    }

    /// The trunk, if it exists.
    pub async fn get_trunk(&self, id: i64) -> Result<Option<Trunk>, SchemaError> {
        let row = sqlx::query(&format!("SELECT {TRUNK_COLUMNS} FROM trunks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(trunk_from_row).transpose()?)
    }

    /// Adds a trunk. Fails with [`SchemaError::Invalid`] for a bad field and
    /// [`SchemaError::Conflict`] if the name is taken.
    pub async fn create_trunk(&self, spec: &TrunkSpec) -> Result<Trunk, SchemaError> {
        let (sources, numbers) = spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO trunks (name, host, port, transport, priority, register, username, \
             password_secret, realm, inbound_sources, inbound_numbers, max_cps, max_calls, \
             options_interval_secs, enabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             RETURNING id",
        )
        .bind(spec.name.as_str())
        .bind(spec.host.as_str())
        .bind(spec.port)
        .bind(spec.transport.as_str())
        .bind(spec.priority)
        .bind(i64::from(spec.register))
        .bind(spec.username.as_deref())
        .bind(spec.password_secret.as_deref())
        .bind(spec.realm.as_deref())
        .bind(sources.as_str())
        .bind(numbers.as_str())
        .bind(spec.max_cps)
        .bind(spec.max_calls)
        .bind(spec.options_interval_secs)
        .bind(i64::from(spec.enabled))
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?;
        let row = sqlx::query(&format!("SELECT {TRUNK_COLUMNS} FROM trunks WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let trunk = trunk_from_row(&row)?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "trunk created");
        Ok(trunk)
    }

    /// Replaces a trunk's settings. Fails with [`SchemaError::NotFound`] for an unknown id
    /// and otherwise as [`Db::create_trunk`].
    pub async fn update_trunk(&self, id: i64, spec: &TrunkSpec) -> Result<Trunk, SchemaError> {
        let (sources, numbers) = spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        let updated = sqlx::query(
            "UPDATE trunks SET name = $2, host = $3, port = $4, transport = $5, priority = $6, \
             register = $7, username = $8, password_secret = $9, realm = $10, \
             inbound_sources = $11, inbound_numbers = $12, max_cps = $13, max_calls = $14, \
             options_interval_secs = $15, enabled = $16 WHERE id = $1",
        )
        .bind(id)
        .bind(spec.name.as_str())
        .bind(spec.host.as_str())
        .bind(spec.port)
        .bind(spec.transport.as_str())
        .bind(spec.priority)
        .bind(i64::from(spec.register))
        .bind(spec.username.as_deref())
        .bind(spec.password_secret.as_deref())
        .bind(spec.realm.as_deref())
        .bind(sources.as_str())
        .bind(numbers.as_str())
        .bind(spec.max_cps)
        .bind(spec.max_calls)
        .bind(spec.options_interval_secs)
        .bind(i64::from(spec.enabled))
        .execute(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?
        .rows_affected();
        if updated == 0 {
            return Err(SchemaError::NotFound(format!("trunk {id}")));
        }
        let row = sqlx::query(&format!("SELECT {TRUNK_COLUMNS} FROM trunks WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let trunk = trunk_from_row(&row)?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "trunk changed");
        Ok(trunk)
    }

    /// Deletes a trunk. Returns whether it existed.
    pub async fn delete_trunk(&self, id: i64) -> Result<bool, SchemaError> {
        let mut tx = self.begin_config_write().await?;
        let removed = sqlx::query("DELETE FROM trunks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        if removed {
            tracing::info!(id, "trunk deleted");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_canonical() {
        assert_eq!(canonical_cidr("127.0.0.1").as_deref(), Ok("127.0.0.1/32"));
        assert_eq!(
            canonical_cidr("192.0.2.0/24").as_deref(),
            Ok("192.0.2.0/24")
        );
        assert_eq!(
            canonical_cidr("2001:db8:0::0/32").as_deref(),
            Ok("2001:db8::/32")
        );
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "example.org",
            "::1/129",
            "10.0.0.0/08",
        ] {
            assert!(canonical_cidr(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            "127.0.0.1",
            "::1",
            "sip.carrier.no",
            "sip.carrier.no.",
            "a-b.c",
        ] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "[::1]",
            "sip carrier",
            "-a.no",
            "a..b",
            "a/b",
            "host:5060",
        ] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_names_are_file_names() {
        assert!(check_secret_name("carrier.password").is_ok());
        for bad in ["", "../x", "/etc/shadow", ".hidden", "p@ss word"] {
            assert!(check_secret_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn spec_defaults_and_register_rule() {
        let mut spec: TrunkSpec =
            serde_json::from_str(r#"{"name": "carrier", "host": "127.0.0.1"}"#).expect("minimal");
        assert_eq!(
            (spec.port, spec.priority, spec.options_interval_secs),
            (5060, 100, 30)
        );
        assert_eq!(spec.transport, TrunkTransport::Udp);
        assert!(spec.enabled && !spec.register);
        assert!(spec.validate().is_ok());
        spec.register = true;
        assert!(
            matches!(spec.validate(), Err(SchemaError::Invalid { field, .. }) if field == "username")
        );
        spec.username = Some("sb".into());
        assert!(
            matches!(spec.validate(), Err(SchemaError::Invalid { field, .. }) if field == "password_secret")
        );
        spec.password_secret = Some("carrier".into());
        spec.inbound_sources = vec!["10.0.0.1".into(), "10.0.0.1/32".into()];
        assert!(
            matches!(spec.validate(), Err(SchemaError::Invalid { field, .. }) if field == "inbound_sources[1]")
        );
        spec.inbound_sources = vec!["10.0.0.1".into()];
        spec.inbound_numbers = vec!["+4764".into(), "4764".into()];
        assert!(
            matches!(spec.validate(), Err(SchemaError::Invalid { field, .. }) if field == "inbound_numbers[1]")
        );
        spec.options_interval_secs = 2;
        spec.inbound_numbers.clear();
        assert!(
            matches!(spec.validate(), Err(SchemaError::Invalid { field, .. }) if field == "options_interval_secs")
        );
    }
}
