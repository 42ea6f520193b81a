//! Where a call goes: the public-number table, extensions, and staff calls out through a trunk.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sip_core::b2bua::{CallRef, RingTarget};
use sip_core::trunk::{Refusal, RegistrationConfig, TrunkConfig, DEFAULT_REGISTER_EXPIRES};
use sip_core::{Peer, TransportKind};
use sip_transport::Command;
use switchboard_routing::menu::parse_target;
use switchboard_routing::numbers::Target;
use switchboard_routing::numbers::{
    check, classify_dialled, Dialled, NumberClass, OutboundPermission, PlanSettings, PublicNumber,
};
use switchboard_routing::numbers::{
    choose_caller_id, split_caller_id_prefix, CallerIdChoice, CallerIdRequest,
    UserCallerIdSettings, E164, NORWAY,
};
use switchboard_routing::schedule::{decide, ClosedReason, Decision};
use switchboard_schema::CallerIdDefault;
use switchboard_schema::Db;
use switchboard_schema::TrunkTransport;
use switchboard_schema::{HuntGroup as DbHuntGroup, Menu, Queue, TargetKind};
use tokio::sync::{mpsc, oneshot, watch};

pub(super) enum Route {
    User(String),
    Group(DbHuntGroup),
    /// Out through the trunks, best priority first: the rest are tried when one fails (5xx, 408).
    Trunk {
        number: String,
        trunks: Vec<RingTarget>,
    },
    Queue(Queue),
    Menu(Menu),
    /// Play this prompt, then hang up.
    Message(String),
    Reject(u16),
}

/// Where a staff member's call goes: an extension, one of the municipality's own numbers, or out
/// through the trunk if the user may call that kind of number (emergency numbers always).
pub(super) async fn route_from_user(
    db: &Db,
    user: &str,
    dialled: &str,
    caller_id_request: Option<&str>,
) -> Route {
    // A dialling prefix (*80 main, *81 direct) or the app's header picks the presented number.
    let (prefix_request, dialled) = split_caller_id_prefix(dialled);
    let request =
        prefix_request.or_else(|| caller_id_request.and_then(CallerIdRequest::from_header));
    let settings = PlanSettings::default();
    let dialled_class = classify_dialled(dialled, &settings);
    let (class, number) = match &dialled_class {
        Dialled::Extension(ext) => return route(db, ext).await,
        Dialled::Invalid(_) => return Route::Reject(484),
        Dialled::Public { class, number } => (*class, number.clone()),
    };
    let text = match &number {
        PublicNumber::E164(e) => {
            // Our own public numbers are answered here, not sent out and back in.
            if let Ok(Some(_)) = db.get_public_number(e.as_str()).await {
                return route(db, e.as_str()).await;
            }
            e.as_str().to_string()
        }
        PublicNumber::Short(s) => s.clone(),
    };
    let permission = match db.user_call_settings(user).await {
        Ok(Some(s)) => OutboundPermission {
            internal: s.allow_internal,
            national: s.allow_national,
            mobile: s.allow_mobile,
            international: s.allow_international,
            premium: s.allow_premium,
        },
        _ => OutboundPermission::default(),
    };
    if class != NumberClass::Emergency {
        if let Err(denied) = check(&dialled_class, &permission) {
            tracing::info!(%user, %text, ?denied, "outbound call denied");
            return Route::Reject(403);
        }
    }
    let caller_id = caller_id_for(db, user, request).await;
    let mut trunks = trunk_targets(db, &text).await;
    for t in &mut trunks {
        t.caller_id = caller_id.clone();
    }
    if trunks.is_empty() {
        Route::Reject(503)
    } else {
        Route::Trunk {
            number: text,
            trunks,
        }
    }
}

/// What a staff member's call out presents: the main number or their direct number, as their
/// settings say (routing's rule: never a number that is neither).
async fn caller_id_for(db: &Db, user: &str, request: Option<CallerIdRequest>) -> Option<String> {
    let main = db.main_number().await.ok().flatten()?;
    let main = E164::parse(&main).ok()?;
    let settings = db.user_call_settings(user).await.ok().flatten();
    let user_settings = UserCallerIdSettings {
        direct_number: settings
            .as_ref()
            .and_then(|s| s.direct_number.as_deref())
            .and_then(|d| E164::parse(d).ok()),
        default: match settings.map(|s| s.caller_id_default) {
            Some(CallerIdDefault::Direct) => CallerIdChoice::DirectNumber,
            _ => CallerIdChoice::MainNumber,
        },
    };
    Some(
        choose_caller_id(&user_settings, request, &main)
            .as_str()
            .to_string(),
    )
}

/// The enabled trunk with the best priority, as a ring target for `number`.
pub(super) async fn trunk_target(db: &Db, number: &str) -> Option<RingTarget> {
    trunk_targets(db, number).await.into_iter().next()
}

/// Every enabled trunk, best priority first, as ring targets for `number`.
pub(super) async fn trunk_targets(db: &Db, number: &str) -> Vec<RingTarget> {
    let mut trunks = db.list_trunks().await.unwrap_or_default();
    trunks.retain(|t| t.enabled);
    trunks.sort_by_key(|t| t.priority);
    trunks
        .into_iter()
        .filter_map(|t| target_of(t, number))
        .collect()
}

fn target_of(trunk: switchboard_schema::Trunk, number: &str) -> Option<RingTarget> {
    // Carriers' SBCs are addressed by IP here; DNS (SRV/NAPTR) is not done yet.
    let ip: IpAddr = trunk.host.parse().ok()?;
    let addr = SocketAddr::new(ip, u16::try_from(trunk.port).ok()?);
    let transport = match trunk.transport {
        TrunkTransport::Udp => TransportKind::Udp,
        TrunkTransport::Tcp => TransportKind::Tcp,
        TrunkTransport::Tls => TransportKind::Tls,
    };
    let uri = sip_message::Uri::parse(format!("sip:{number}@{addr}").as_bytes()).ok()?;
    Some(RingTarget {
        uri,
        peer: Peer {
            transport,
            addr,
            connection: None,
        },
        label: trunk.name,
        ring_timeout: Some(Duration::from_secs(120)),
        confirm: false,
        caller_id: None,
    })
}

/// The first trunk in `queue` that takes the call (up and under its caps), its slot now held
/// for `call`; the ones before it are dropped. A trunk the SIP core does not know yet (added
/// less than a sync ago) is taken as it is.
pub(super) async fn take_trunk(
    sip: &mpsc::Sender<Command>,
    call: CallRef,
    queue: &mut VecDeque<RingTarget>,
) -> Option<RingTarget> {
    while let Some(t) = queue.pop_front() {
        let (reply, answer) = oneshot::channel();
        let ask = Command::TrunkAcquire {
            trunk: t.label.clone(),
            call,
            reply,
        };
        if sip.send(ask).await.is_err() {
            return None;
        }
        match answer.await {
            Ok(Ok(())) | Ok(Err(Refusal::Unknown)) => return Some(t),
            Ok(Err(why)) => tracing::info!(trunk = %t.label, reason = %why, "trunk skipped"),
            Err(_) => return None,
        }
    }
    None
}

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
        transport: match t.transport {
            TrunkTransport::Udp => TransportKind::Udp,
            TrunkTransport::Tcp => TransportKind::Tcp,
            TrunkTransport::Tls => TransportKind::Tls,
        },
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
            let sources: Vec<(IpAddr, u8)> = trunks
                .iter()
                .filter(|t| t.enabled)
                .flat_map(|t| t.inbound_sources.iter())
                .filter_map(|cidr| {
                    let (ip, len) = cidr.split_once('/')?;
                    Some((ip.parse().ok()?, len.parse().ok()?))
                })
                .collect();
            if last.as_ref() != Some(&sources) {
                tracing::info!(?sources, "trunk sources");
                let _ = sip.send(Command::SetCallSources(sources.clone())).await;
                last = Some(sources);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Where a dialled number goes: a public number from the table, else an extension.
pub(super) async fn route(db: &Db, dialled: &str) -> Route {
    if let Ok(number) = E164::from_carrier(dialled, &NORWAY) {
        match db.get_public_number(number.as_str()).await {
            Ok(Some(n)) => {
                let open = match n.schedule_id {
                    Some(id) => opening(db, id).await,
                    None => Decision::Open,
                };
                return match open {
                    Decision::Open => route_target(db, n.target_kind, &n.target_ref).await,
                    Decision::Redirect { target } => match parse_target(&target) {
                        Some(t) => route_routing_target(db, &t).await,
                        None => {
                            tracing::warn!(%target, "override target unreadable: closed instead");
                            Route::Message(CLOSED_PROMPT.to_string())
                        }
                    },
                    Decision::Closed { reason } => {
                        tracing::info!(number = %n.number, ?reason, "closed");
                        match (reason, n.closed_kind, n.closed_ref) {
                            (ClosedReason::Override(prompt), _, _) => Route::Message(prompt),
                            (_, Some(kind), Some(r)) => route_target(db, kind, &r).await,
                            _ => Route::Message(CLOSED_PROMPT.to_string()),
                        }
                    }
                };
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "number lookup failed"),
        }
    }
    match db.get_user(dialled).await {
        Ok(Some(_)) => Route::User(dialled.to_string()),
        Ok(None) => Route::Reject(404),
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            Route::Reject(500)
        }
    }
}

/// The prompt a closed number plays when no closed target is set.
const CLOSED_PROMPT: &str = "closed";

/// Open or closed now, by the schedule `id` and its override. A schedule that cannot be read counts
/// as open: a broken schedule must not silence the switchboard.
async fn opening(db: &Db, id: i64) -> Decision {
    match db.get_schedule(id).await {
        Ok(Some(s)) => decide(
            &s.schedule,
            s.emergency_override.as_ref(),
            chrono::Utc::now(),
        ),
        Ok(None) => Decision::Open,
        Err(e) => {
            tracing::error!(error = %e, schedule = id, "schedule lookup failed: treated as open");
            Decision::Open
        }
    }
}

/// Where a stored target (a number's, a queue's overflow) leads.
pub(super) async fn route_target(db: &Db, kind: TargetKind, target_ref: &str) -> Route {
    let id = target_ref.parse::<i64>();
    match (kind, id) {
        (TargetKind::User, _) => Route::User(target_ref.to_string()),
        (TargetKind::HuntGroup, Ok(id)) => match db.get_hunt_group(id).await {
            Ok(Some(g)) => Route::Group(g),
            _ => Route::Reject(480),
        },
        (TargetKind::Queue, Ok(id)) => match db.get_queue(id).await {
            Ok(Some(q)) => Route::Queue(q),
            _ => Route::Reject(480),
        },
        (TargetKind::Menu, Ok(id)) => match db.get_menu(id).await {
            Ok(Some(m)) => Route::Menu(m),
            _ => Route::Reject(480),
        },
        (TargetKind::Message, _) => Route::Message(target_ref.to_string()),
        _ => Route::Reject(480),
    }
}

/// Where one of routing's targets (a menu key, a queue overflow, an override) leads.
pub(super) async fn route_routing_target(db: &Db, target: &Target) -> Route {
    match target {
        Target::User(u) => route_target(db, TargetKind::User, u).await,
        Target::HuntGroup(id) => route_target(db, TargetKind::HuntGroup, &id.to_string()).await,
        Target::Queue(id) => route_target(db, TargetKind::Queue, &id.to_string()).await,
        Target::Menu(id) => route_target(db, TargetKind::Menu, &id.to_string()).await,
        Target::Message(p) => Route::Message(p.clone()),
        // Forwarding a public number out through a trunk: not offered by the admin API yet.
        Target::Trunk(_) => Route::Reject(501),
    }
}
