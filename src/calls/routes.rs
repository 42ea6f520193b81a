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
    /// A queue, and the priority the caller joins it with (a priority number's).
    Queue(Queue, u8),
    /// A menu, and the queue priority the caller has so far.
    Menu(Menu, u8),
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
                .filter_map(|cidr| switchboard_schema::parse_cidr(cidr).ok())
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
                let closed = n.closed_kind.zip(n.closed_ref);
                let route = match n.schedule_id {
                    Some(schedule) => match after_hours(db, schedule, closed).await {
                        AfterHours::Open => route_target(db, n.target_kind, &n.target_ref).await,
                        AfterHours::Target(kind, r) => route_target(db, kind, &r).await,
                        AfterHours::Done(route) => *route,
                    },
                    None => route_target(db, n.target_kind, &n.target_ref).await,
                };
                return with_priority(route, u8::try_from(n.priority).unwrap_or(0));
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

/// A priority number's callers keep their priority through menus into queues.
fn with_priority(route: Route, priority: u8) -> Route {
    match route {
        Route::Queue(q, p) => Route::Queue(q, p.max(priority)),
        Route::Menu(m, p) => Route::Menu(m, p.max(priority)),
        other => other,
    }
}

/// The prompt a closed number plays when no closed target is set.
const CLOSED_PROMPT: &str = "closed";

/// How many closed targets in a row a call may be sent through (a closed queue whose closed target
/// is a closed menu, …) before it hears "closed": admins can build loops.
const MAX_CLOSED_HOPS: usize = 8;

/// What a schedule says about a call now.
enum AfterHours {
    Open,
    /// Closed, or an override routes elsewhere: go to this target instead.
    Target(TargetKind, String),
    /// Closed with nowhere to go: this message, or the override's.
    Done(Box<Route>),
}

/// Open, or where a call goes instead, by the schedule `id` (with its override) and the closed
/// target of the number, queue or menu that follows it.
async fn after_hours(db: &Db, id: i64, closed: Option<(TargetKind, String)>) -> AfterHours {
    match opening(db, id).await {
        Decision::Open => AfterHours::Open,
        Decision::Redirect { target } => match parse_target(&target).and_then(|t| kind_ref(&t)) {
            Some((kind, r)) => AfterHours::Target(kind, r),
            None => {
                tracing::warn!(%target, "override target unreadable: closed instead");
                AfterHours::Done(Box::new(Route::Message(CLOSED_PROMPT.to_string())))
            }
        },
        Decision::Closed { reason } => {
            tracing::info!(schedule = id, ?reason, "closed");
            match (reason, closed) {
                (ClosedReason::Override(prompt), _) => {
                    AfterHours::Done(Box::new(Route::Message(prompt)))
                }
                (_, Some((kind, r))) => AfterHours::Target(kind, r),
                _ => AfterHours::Done(Box::new(Route::Message(CLOSED_PROMPT.to_string()))),
            }
        }
    }
}

/// A routing target as the database writes it; `None` for a trunk (not a stored target kind).
fn kind_ref(target: &Target) -> Option<(TargetKind, String)> {
    Some(match target {
        Target::User(u) => (TargetKind::User, u.clone()),
        Target::HuntGroup(id) => (TargetKind::HuntGroup, id.to_string()),
        Target::Queue(id) => (TargetKind::Queue, id.to_string()),
        Target::Menu(id) => (TargetKind::Menu, id.to_string()),
        Target::Message(p) => (TargetKind::Message, p.clone()),
        Target::Trunk(_) => return None,
    })
}

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

/// Where a stored target (a number's, a queue's overflow) leads, through the opening hours of the
/// queues and menus on the way.
pub(super) async fn route_target(db: &Db, kind: TargetKind, target_ref: &str) -> Route {
    let mut next = (kind, target_ref.to_string());
    for _ in 0..MAX_CLOSED_HOPS {
        let route = lookup(db, next.0, &next.1).await;
        let hours = match &route {
            Route::Queue(q, _) => q
                .schedule_id
                .map(|s| (s, q.closed_kind.zip(q.closed_ref.clone()))),
            Route::Menu(m, _) => m.config.schedule_id.map(|s| {
                let closed = m.config.closed.as_ref().and_then(kind_ref);
                (i64::try_from(s).unwrap_or(-1), closed)
            }),
            _ => None,
        };
        let Some((schedule, closed)) = hours else {
            return route;
        };
        match after_hours(db, schedule, closed).await {
            AfterHours::Open => return route,
            AfterHours::Target(kind, r) => next = (kind, r),
            AfterHours::Done(route) => return *route,
        }
    }
    tracing::warn!(kind = %kind, target_ref, "closed targets loop: closed");
    Route::Message(CLOSED_PROMPT.to_string())
}

/// The stored target itself, hours aside.
async fn lookup(db: &Db, kind: TargetKind, target_ref: &str) -> Route {
    let id = target_ref.parse::<i64>();
    match (kind, id) {
        (TargetKind::User, _) => Route::User(target_ref.to_string()),
        (TargetKind::HuntGroup, Ok(id)) => match db.get_hunt_group(id).await {
            Ok(Some(g)) => Route::Group(g),
            _ => Route::Reject(480),
        },
        (TargetKind::Queue, Ok(id)) => match db.get_queue(id).await {
            Ok(Some(q)) => Route::Queue(q, 0),
            _ => Route::Reject(480),
        },
        (TargetKind::Menu, Ok(id)) => match db.get_menu(id).await {
            Ok(Some(m)) => Route::Menu(m, 0),
            _ => Route::Reject(480),
        },
        (TargetKind::Message, _) => Route::Message(target_ref.to_string()),
        _ => Route::Reject(480),
    }
}

/// Where one of routing's targets (a menu key, a queue overflow, an override) leads.
pub(super) async fn route_routing_target(db: &Db, target: &Target) -> Route {
    match kind_ref(target) {
        Some((kind, r)) => route_target(db, kind, &r).await,
        // Forwarding a public number out through a trunk: not offered by the admin API yet.
        None => Route::Reject(501),
    }
}
