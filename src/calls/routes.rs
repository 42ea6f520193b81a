//! Where a call goes: the public-number table, extensions, and staff calls out through a trunk.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sip_core::b2bua::RingTarget;
use sip_core::{Peer, TransportKind};
use sip_transport::Command;
use switchboard_routing::numbers::{
    check, classify_dialled, Dialled, NumberClass, OutboundPermission, PlanSettings, PublicNumber,
};
use switchboard_routing::numbers::{
    choose_caller_id, CallerIdChoice, UserCallerIdSettings, E164, NORWAY,
};
use switchboard_schema::CallerIdDefault;
use switchboard_schema::Db;
use switchboard_schema::TrunkTransport;
use switchboard_schema::{HuntGroup as DbHuntGroup, TargetKind};
use tokio::sync::{mpsc, watch};

pub(super) enum Route {
    User(String),
    Group(DbHuntGroup),
    /// Out through the trunks, best priority first: the rest are tried when one fails (5xx, 408).
    Trunk {
        number: String,
        trunks: Vec<RingTarget>,
    },
    Reject(u16),
}

/// Where a staff member's call goes: an extension, one of the municipality's own numbers, or out
/// through the trunk if the user may call that kind of number (emergency numbers always).
pub(super) async fn route_from_user(db: &Db, user: &str, dialled: &str) -> Route {
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
    let caller_id = caller_id_for(db, user).await;
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
async fn caller_id_for(db: &Db, user: &str) -> Option<String> {
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
        choose_caller_id(&user_settings, None, &main)
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

/// Tells the SIP core which networks trunks call from, now and whenever the trunks change.
pub async fn sync_trunk_sources(
    db: Db,
    sip: mpsc::Sender<Command>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last: Option<Vec<(IpAddr, u8)>> = None;
    loop {
        if let Ok(trunks) = db.list_trunks().await {
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
                return match n.target_kind {
                    TargetKind::User => Route::User(n.target_ref),
                    TargetKind::HuntGroup => match n.target_ref.parse::<i64>() {
                        Ok(id) => match db.get_hunt_group(id).await {
                            Ok(Some(g)) => Route::Group(g),
                            _ => Route::Reject(480),
                        },
                        Err(_) => Route::Reject(480),
                    },
                    // Queues, menus and messages come with the citizen's-path issue.
                    _ => Route::Reject(480),
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
