//! The SIP core's view of the trunks: which networks carriers call from, and which trunks to
//! register and probe, kept in step with the database.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sip_core::trunk::{RegistrationConfig, TrunkConfig, DEFAULT_REGISTER_EXPIRES};
use sip_transport::Command;
use switchboard_schema::Db;
use tokio::sync::{mpsc, watch};

/// How often the trunk list is pushed even when unchanged, so DNS names are resolved again.
const TRUNK_REFRESH: Duration = Duration::from_secs(300);

/// The SIP core's view of an enabled trunk; the carrier password is read from `secrets_dir`.
/// Problems (no secrets directory, unreadable file) leave the trunk unregistered and are
/// returned as warnings.
fn core_trunk(
    t: &switchboard_schema::Trunk,
    secrets_dir: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Option<TrunkConfig> {
    let port = u16::try_from(t.port).ok()?;
    let registration = match (t.register, &t.username, &t.password_secret) {
        (true, Some(username), Some(secret)) => {
            match secrets_dir.map(|d| std::fs::read_to_string(d.join(secret))) {
                Some(Ok(password)) => Some(RegistrationConfig {
                    username: username.clone(),
                    password: password.trim_end_matches(['\r', '\n']).to_string(),
                    realm: t.realm.clone(),
                    expires: DEFAULT_REGISTER_EXPIRES,
                }),
                Some(Err(e)) => {
                    warnings.push(format!(
                        "trunk {}: password file {secret:?} unreadable ({e}): not registering",
                        t.name
                    ));
                    None
                }
                None => {
                    warnings.push(format!(
                        "trunk {}: no [secrets] dir for its password file: not registering",
                        t.name
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    Some(TrunkConfig {
        id: t.id,
        name: t.name.clone(),
        host: t.host.clone(),
        port,
        transport: call_control::transport_of(t.transport),
        addr: None,
        registration,
        options_interval: u64::try_from(t.options_interval_secs)
            .ok()
            .filter(|&s| s > 0)
            .map(Duration::from_secs),
        max_cps: u32::try_from(t.max_cps).unwrap_or(0),
        max_calls: u32::try_from(t.max_calls).unwrap_or(0),
    })
}

/// Tells the SIP core which networks trunks call from and which trunks to register and probe,
/// now and whenever the trunks (or their password files) change.
pub async fn sync_trunk_sources(
    db: Db,
    sip: mpsc::Sender<Command>,
    secrets_dir: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last: Option<Vec<(IpAddr, u8)>> = None;
    let mut last_trunks: Option<(Vec<TrunkConfig>, Instant)> = None;
    loop {
        if let Ok(trunks) = db.list_trunks().await {
            let mut warnings = Vec::new();
            let configs: Vec<TrunkConfig> = trunks
                .iter()
                .filter(|t| t.enabled)
                .filter_map(|t| core_trunk(t, secrets_dir.as_deref(), &mut warnings))
                .collect();
            // Sources first: once the SIP core shows a trunk (after resolving its host, which comes
            // later), the networks it calls from are known too. Tests wait on that.
            let sources: Vec<(IpAddr, u8)> = trunks
                .iter()
                .filter(|t| t.enabled)
                .flat_map(|t| t.inbound_sources.iter())
                .filter_map(|cidr| switchboard_schema::parse_cidr(cidr).ok())
                .collect();
            if last.as_ref() != Some(&sources) {
                tracing::info!(?sources, "trunk sources");
                let _ = sip.send(Command::SetCallSources(sources.clone())).await;
                last = Some(sources);
            }
            let stale = last_trunks
                .as_ref()
                .is_none_or(|(c, at)| *c != configs || at.elapsed() >= TRUNK_REFRESH);
            if stale {
                let changed = last_trunks.as_ref().is_none_or(|(c, _)| *c != configs);
                if changed {
                    for w in &warnings {
                        tracing::warn!("{w}");
                    }
                    let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
                    tracing::info!(?names, "trunks");
                }
                let _ = sip.send(Command::SetTrunks(configs.clone())).await;
                last_trunks = Some((configs, Instant::now()));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
