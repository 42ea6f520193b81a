//! Node settings: addresses, ports, secrets paths. Everything an admin manages (users, numbers, queues)
//! lives in the database instead.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("invalid nonce secret in {0}: expected at least 32 bytes")]
    Secret(PathBuf),
    #[error("the admin token file {0} is empty: put a token in it, or delete it to have one made")]
    EmptyToken(PathBuf),
    #[error("cannot create the admin token file {path}: {source}")]
    WriteToken {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing to serve the admin API on {0} without a token: anyone who reaches that address \
         could manage users, trunks and recordings. Set [secrets] admin_token_file (or \
         --admin-token-file; a missing file is created with a new token), or listen on 127.0.0.1"
    )]
    OpenAdminApi(SocketAddr),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub sip: SipConfig,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub registrar: RegistrarSettings,
    pub auth_guard: GuardSettings,
    pub secrets: SecretsConfig,
    pub media: MediaSettings,
    pub push: PushSettings,
    pub shield: ShieldSettings,
    pub oidc: OidcConfig,
    /// The config file's directory (the working directory without one): relative paths and the
    /// default recordings directory start there.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Limits per source address, applied to every SIP message before it is parsed (`[shield]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShieldSettings {
    /// Messages per second one source may send on average (trunks' `inbound_sources` are exempt).
    pub rate_per_source: u32,
    /// How many above that it may send at once.
    pub burst_per_source: u32,
    /// Messages dropped for the rate within one second that ban a source as a flood.
    pub flood_drops_per_sec: u32,
    /// How long scanners and floods stay banned (lifted earlier with `DELETE /api/v1/bans/{ip}`).
    pub ban_secs: u64,
    /// User-Agent fragments (case-insensitive) of SIP scanners: their first request bans the source.
    pub scanner_user_agents: Vec<String>,
    /// TCP, TLS and WebSocket connections one address may hold open at once.
    pub connections_per_source: usize,
}

impl Default for ShieldSettings {
    fn default() -> Self {
        let d = sip_core::shield::ShieldConfig::default();
        ShieldSettings {
            rate_per_source: d.rate,
            burst_per_source: d.burst,
            flood_drops_per_sec: d.flood_drops,
            ban_secs: d.ban.as_secs(),
            scanner_user_agents: d.scanner_agents,
            connections_per_source: sip_transport::DEFAULT_CONNECTIONS_PER_SOURCE,
        }
    }
}

/// Logging in with the municipality's identity provider (`[oidc]`, OpenID Connect). Unset `issuer`:
/// only local logins.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer URL (Entra ID: `https://login.microsoftonline.com/<tenant id>/v2.0`).
    pub issuer: Option<String>,
    pub client_id: String,
    /// File holding the client secret. Relative: to the config file's directory.
    pub client_secret_file: Option<PathBuf>,
    /// This node's `/api/v1/auth/oidc/callback` as browsers reach it (registered at the provider).
    pub redirect_uri: String,
    /// The claim naming the Switchboard user (`preferred_username`, `upn`, `email`, …).
    pub username_claim: String,
    /// The claim listing the user's roles (Entra ID app roles); `""`: roles are managed here.
    pub roles_claim: String,
    /// Provider role names → Switchboard roles, e.g. `{ "Switchboard.Reception" = "receptionist" }`.
    pub role_map: std::collections::HashMap<String, String>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer: None,
            client_id: String::new(),
            client_secret_file: None,
            redirect_uri: String::new(),
            username_claim: "preferred_username".into(),
            roles_claim: "roles".into(),
            role_map: Default::default(),
        }
    }
}

/// Push wake-up of staff apps (`[push]`, RFC 8599): the providers' keys and addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// Seconds a call waits for an app woken by a push to register (the branch's ring time
    /// bounds it too).
    pub wait_secs: u64,
    /// Firebase: the service-account key file (JSON, from the Firebase console). Relative: to the
    /// config file's directory. Unset: pushes to FCM devices fail (and say so).
    pub fcm_service_account: Option<PathBuf>,
    /// Base URL of the FCM HTTP v1 API.
    pub fcm_url: String,
    /// The OAuth2 token endpoint; default: the key file's `token_uri`.
    pub fcm_token_url: Option<String>,
    /// APNs: the team's token signing key (`.p8`). Unset: pushes to APNs devices fail.
    pub apns_key: Option<PathBuf>,
    /// The signing key's ID (10 characters, from the Apple developer account).
    pub apns_key_id: String,
    /// The team ID that issued the key.
    pub apns_team_id: String,
    /// The VoIP topic (`<bundle id>.voip`) for devices whose `pn-param` names none.
    pub apns_topic: Option<String>,
    /// Base URL of APNs (`https://api.sandbox.push.apple.com` for development builds).
    pub apns_url: String,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            wait_secs: 20,
            fcm_service_account: None,
            fcm_url: "https://fcm.googleapis.com".into(),
            fcm_token_url: None,
            apns_key: None,
            apns_key_id: String::new(),
            apns_team_id: String::new(),
            apns_topic: None,
            apns_url: "https://api.push.apple.com".into(),
        }
    }
}

/// The media relay (`[media]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Address the RTP sockets bind to.
    pub bind: IpAddr,
    /// Address written into SDP: the public address when the node sits behind NAT. Default: the
    /// SIP advertised address.
    pub advertised: Option<IpAddr>,
    pub port_min: u16,
    pub port_max: u16,
    /// Media threads; 0 = one per core.
    pub threads: usize,
    /// Seconds without RTP from a leg before the call is hung up.
    pub timeout_secs: u64,
    /// Where call recordings are written (only there). Relative: to the config file's directory.
    /// Default: `recordings` beside the SQLite database file, or beside the config file.
    pub recordings_dir: Option<PathBuf>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            bind: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            advertised: None,
            port_min: 20000,
            port_max: 29999,
            threads: 0,
            timeout_secs: 30,
            recordings_dir: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// UDP and TCP listen on this address and port.
    pub listen: SocketAddr,
    /// Digest realm and SIP domain. Changing it invalidates stored HA1 hashes (passwords must be reset).
    pub realm: String,
    /// Address put in Via and Contact of the requests this node sends (calls). Default: the listen
    /// address, or, when that is 0.0.0.0, the address of the interface with the default route.
    pub advertised: Option<IpAddr>,
    /// SIP over TLS for phones listens here (5061 by convention); off when unset. Needs
    /// `tls_certificate` and `tls_private_key`.
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain (leaf first) presented on `tls_listen`.
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key of that certificate.
    pub tls_private_key: Option<PathBuf>,
    /// PEM file of extra CAs trusted for trunks with transport tls, besides the Mozilla roots.
    pub tls_ca_file: Option<PathBuf>,
    /// SIP over WebSocket (RFC 7118, subprotocol `sip`) listens here; off when unset. For a browser
    /// softphone behind a TLS-terminating proxy, or tests; phones on the internet use `wss_listen`.
    pub ws_listen: Option<SocketAddr>,
    /// SIP over secure WebSocket listens here; off when unset. Presents `tls_certificate` (with
    /// `tls_private_key`), like `tls_listen`; both are read again on SIGHUP.
    pub wss_listen: Option<SocketAddr>,
    /// How often (seconds) `tls_certificate` and `tls_private_key` are checked for a change, such
    /// as a renewal by certbot, and read again when they changed; 0: only on SIGHUP.
    pub tls_watch_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// A sqlx URL: `sqlite://path?mode=rwc`, `sqlite::memory:` or `postgres://…`. Empty: `switchboard.db`
    /// beside the config file (or in the working directory without one).
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarSettings {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts_per_user: usize,
    pub nonce_ttl_secs: u64,
    /// Digest algorithms offered, in challenge order: "SHA-256", "MD5". Default: MD5 only, because
    /// SIPp 3.6 and baresip 1.0 fail on a SHA-256 challenge (see sip_core::RegistrarConfig).
    pub algorithms: Vec<String>,
    /// CIDRs whose REGISTERs are accepted without digest (an SBC in front that authenticates), e.g.
    /// "10.0.0.0/8". Empty by default: every REGISTER is challenged.
    pub trusted_sources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardSettings {
    pub max_failures: u32,
    pub window_secs: u64,
    pub ban_secs: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// File with ≥ 32 bytes that key the digest nonces; nodes sharing it accept each other's nonces.
    /// Without it a random key is made at start (clients then re-authenticate after a restart).
    pub nonce_secret_file: Option<PathBuf>,
    /// File holding the bearer token for the admin API. Without it the API is open to whoever reaches the
    /// HTTP address (127.0.0.1 by default).
    pub admin_token_file: Option<PathBuf>,
    /// Directory of the secret files the database names (a trunk's `password_secret`), so carrier
    /// passwords never enter the shared database. Without it trunks do not register.
    pub dir: Option<PathBuf>,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            realm: "switchboard".to_string(),
            advertised: None,
            tls_listen: None,
            tls_certificate: None,
            tls_private_key: None,
            tls_ca_file: None,
            ws_listen: None,
            wss_listen: None,
            tls_watch_secs: 60,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        RegistrarSettings {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts_per_user: 10,
            nonce_ttl_secs: 300,
            algorithms: vec!["MD5".to_string()],
            trusted_sources: Vec::new(),
        }
    }
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            max_failures: 10,
            window_secs: 60,
            ban_secs: 300,
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut cfg = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: p.to_path_buf(),
                    source: Box::new(source),
                })?
            }
        };
        let dir = path
            .and_then(Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        cfg.base_dir = dir.to_path_buf();
        if cfg.database.url.is_empty() {
            let file = dir.join("switchboard.db");
            cfg.database.url = format!("sqlite://{}?mode=rwc", file.display());
        }
        Ok(cfg)
    }

    /// The directory call recordings go to: `[media] recordings_dir`, else `recordings` beside the
    /// SQLite database file (the node's data lives there), else beside the config file. Read after
    /// the command line had its say about the database.
    pub fn recordings_dir(&self) -> PathBuf {
        if let Some(dir) = &self.media.recordings_dir {
            return self.base_dir.join(dir);
        }
        sqlite_file(&self.database.url)
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .map_or_else(
                || self.base_dir.join("recordings"),
                |d| {
                    if d.as_os_str().is_empty() {
                        PathBuf::from("recordings")
                    } else {
                        d.join("recordings")
                    }
                },
            )
    }

    pub fn nonce_secret(&self) -> Result<[u8; 32], ConfigError> {
        match &self.secrets.nonce_secret_file {
            None => Ok(rand::random()),
            Some(p) => {
                let bytes = std::fs::read(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                if bytes.len() < 32 {
                    return Err(ConfigError::Secret(p.clone()));
                }
                Ok(fold_key(&bytes))
            }
        }
    }

    /// The admin API's bearer token: read from `[secrets] admin_token_file`, or made there (32 random
    /// bytes, hex; the file readable by its owner only) when the file does not exist yet; `None`
    /// without the setting. The second value is the file, when this call created it.
    pub fn admin_token(&self) -> Result<Option<(String, Option<PathBuf>)>, ConfigError> {
        let Some(file) = &self.secrets.admin_token_file else {
            return Ok(None);
        };
        let path = self.base_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let token = text.trim();
                if token.is_empty() {
                    return Err(ConfigError::EmptyToken(path));
                }
                Ok(Some((token.to_string(), None)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let token = hex::encode(rand::random::<[u8; 32]>());
                write_owner_only(&path, &token).map_err(|source| ConfigError::WriteToken {
                    path: path.clone(),
                    source,
                })?;
                Ok(Some((token, Some(path))))
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Refuses an admin API without a token on any address but loopback: the API manages users,
    /// trunks and recordings, and must never be reachable from the network by accident.
    pub fn check_api_exposure(&self, token: Option<&str>) -> Result<(), ConfigError> {
        if token.is_none() && !self.http.listen.ip().is_loopback() {
            return Err(ConfigError::OpenAdminApi(self.http.listen));
        }
        Ok(())
    }
}

/// Creates `path` (never overwriting) with `text`, readable and writable by its owner only.
fn write_owner_only(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// The file of a SQLite URL (`sqlite://path?…`, `sqlite:path`); `None` for other databases and for
/// an in-memory one.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    let memory =
        path.is_empty() || path == ":memory:" || params.split('&').any(|p| p == "mode=memory");
    (!memory).then(|| PathBuf::from(path))
}

/// Folds a secret of any length ≥ 32 bytes into the 32 key bytes the nonce HMAC takes.
fn fold_key(bytes: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        key[i % 32] ^= b;
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_api_off_loopback_needs_a_token() {
        let mut cfg = Config::default();
        assert!(cfg.check_api_exposure(None).is_ok(), "127.0.0.1 by default");
        cfg.http.listen = "[::1]:8080".parse().unwrap();
        assert!(cfg.check_api_exposure(None).is_ok());
        for open in ["0.0.0.0:8080", "192.0.2.10:8080", "[::]:8080"] {
            cfg.http.listen = open.parse().unwrap();
            let err = cfg.check_api_exposure(None).unwrap_err().to_string();
            assert!(err.contains("admin_token_file"), "{err}");
            assert!(cfg.check_api_exposure(Some("t0ken")).is_ok());
        }
    }

    #[test]
    fn a_missing_token_file_is_made_owner_only_and_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            base_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        assert!(cfg.admin_token().unwrap().is_none());
        cfg.secrets.admin_token_file = Some(PathBuf::from("admin.token"));
        let (token, created) = cfg.admin_token().unwrap().unwrap();
        let path = dir.path().join("admin.token");
        assert_eq!(created.as_deref(), Some(path.as_path()));
        assert_eq!(token.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = cfg.admin_token().unwrap().unwrap();
        assert_eq!((again.as_str(), created), (token.as_str(), None));
        std::fs::write(&path, "  \n").unwrap();
        assert!(matches!(cfg.admin_token(), Err(ConfigError::EmptyToken(_))));
    }

    fn with(url: &str, dir: Option<&str>) -> Config {
        let mut cfg = Config {
            base_dir: PathBuf::from("/etc/switchboard"),
            ..Config::default()
        };
        cfg.database.url = url.to_owned();
        cfg.media.recordings_dir = dir.map(PathBuf::from);
        cfg
    }

    #[test]
    fn recordings_dir() {
        let cases = [
            (
                "sqlite:///var/lib/sb/sb.db?mode=rwc",
                None,
                "/var/lib/sb/recordings",
            ),
            ("sqlite://data/sb.db", None, "data/recordings"),
            ("sqlite:sb.db", None, "recordings"),
            ("sqlite::memory:", None, "/etc/switchboard/recordings"),
            (
                "sqlite://x.db?mode=memory",
                None,
                "/etc/switchboard/recordings",
            ),
            ("postgres://u@h/db", None, "/etc/switchboard/recordings"),
            ("postgres://u@h/db", Some("/srv/rec"), "/srv/rec"),
            (
                "sqlite:///var/lib/sb/sb.db",
                Some("rec"),
                "/etc/switchboard/rec",
            ),
        ];
        for (url, dir, want) in cases {
            assert_eq!(
                with(url, dir).recordings_dir(),
                PathBuf::from(want),
                "{url} {dir:?}"
            );
        }
    }
}
