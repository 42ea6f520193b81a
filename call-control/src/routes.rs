//! Where a call goes: the public-number table, extensions, opening hours, and staff calls out
//! through a trunk — decided on the configuration snapshot at a given wall-clock time, never on a
//! query.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sip_core::b2bua::{BranchLabel, RingTarget};
use sip_core::{Peer, TransportKind};
use switchboard_routing::menu::parse_target;
use switchboard_routing::numbers::{
    check, choose_caller_id, classify_dialled, split_caller_id_prefix, CallerIdChoice,
    CallerIdRequest, Dialled, NumberClass, OutboundPermission, PlanSettings, PublicNumber, Target,
    UserCallerIdSettings, E164, NORWAY,
};
use switchboard_routing::schedule::{decide, ClosedReason, Decision};
use switchboard_schema::{CallerIdDefault, TrunkTransport};
use switchboard_schema::{HuntGroup, Menu, Queue, TargetKind};

use crate::snapshot::Snapshot;

/// Where one call goes next.
#[derive(Debug, Clone)]
pub enum Route {
    User(String),
    Group(HuntGroup),
    /// Out through the trunks, best priority first: the rest are tried when one fails (5xx, 408)
    /// or refuses (down, at a cap).
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

/// The prompt a closed number plays when no closed target is set.
const CLOSED_PROMPT: &str = "closed";

/// How many closed targets in a row a call may be sent through (a closed queue whose closed target
/// is a closed menu, …) before it hears "closed": admins can build loops.
const MAX_CLOSED_HOPS: usize = 8;

/// How long a trunk call rings before we give up on it.
const TRUNK_RING_TIMEOUT: Duration = Duration::from_secs(120);

/// What a schedule says about a call now.
enum AfterHours {
    Open,
    /// Closed, or an override routes elsewhere: go to this target instead.
    Target(TargetKind, String),
    /// Closed with nowhere to go: this message, or the override's.
    Done(Box<Route>),
}

impl Snapshot {
    /// Where a dialled number goes at `at`: a public number from the table, else an extension.
    pub fn route(&self, dialled: &str, at: DateTime<Utc>) -> Route {
        if let Ok(number) = E164::from_carrier(dialled, &NORWAY) {
            if let Some(n) = self.numbers.get(number.as_str()) {
                let closed = n.closed_kind.zip(n.closed_ref.clone());
                let route = match n.schedule_id {
                    Some(schedule) => match self.after_hours(schedule, closed, at) {
                        AfterHours::Open => self.route_target(n.target_kind, &n.target_ref, at),
                        AfterHours::Target(kind, r) => self.route_target(kind, &r, at),
                        AfterHours::Done(route) => *route,
                    },
                    None => self.route_target(n.target_kind, &n.target_ref, at),
                };
                return with_priority(route, u8::try_from(n.priority).unwrap_or(0));
            }
        }
        if self.users.contains_key(dialled) {
            Route::User(dialled.to_string())
        } else {
            Route::Reject(404)
        }
    }

    /// A public number's label ("Sentralbord") and its E.164 form, as a carrier's dialled number
    /// names it; `None` for a number that is not ours.
    pub fn public_number(&self, dialled: &str) -> Option<(&str, &str)> {
        let number = E164::from_carrier(dialled, &NORWAY).ok()?;
        let n = self.numbers.get(number.as_str())?;
        Some((n.label.as_str(), n.number.as_str()))
    }

    /// Whether a staff member dialling `dialled` calls abroad or a premium-rate number (the
    /// toll-fraud limits apply).
    pub fn is_toll(&self, dialled: &str) -> bool {
        let (_, dialled) = split_caller_id_prefix(dialled);
        matches!(
            classify_dialled(dialled, &PlanSettings::default()),
            Dialled::Public {
                class: NumberClass::International | NumberClass::Premium,
                ..
            }
        )
    }

    /// Where a staff member's call goes: an extension, one of the municipality's own numbers, or
    /// out through the trunk if the user may call that kind of number (emergency numbers always).
    pub fn route_from_user(
        &self,
        user: &str,
        dialled: &str,
        caller_id_request: Option<&str>,
        at: DateTime<Utc>,
    ) -> Route {
        // A dialling prefix (*80 main, *81 direct) or the app's header picks the presented number.
        let (prefix_request, dialled) = split_caller_id_prefix(dialled);
        let request =
            prefix_request.or_else(|| caller_id_request.and_then(CallerIdRequest::from_header));
        let dialled_class = classify_dialled(dialled, &PlanSettings::default());
        let (class, number) = match &dialled_class {
            Dialled::Extension(ext) => return self.route(ext, at),
            Dialled::Invalid(_) => return Route::Reject(484),
            Dialled::Public { class, number } => (*class, number.clone()),
        };
        let text = match &number {
            PublicNumber::E164(e) => {
                // Our own public numbers are answered here, not sent out and back in.
                if self.numbers.contains_key(e.as_str()) {
                    return self.route(e.as_str(), at);
                }
                e.as_str().to_string()
            }
            PublicNumber::Short(s) => s.clone(),
        };
        let permission = match self.user(user) {
            Some(u) => OutboundPermission {
                internal: u.settings.allow_internal,
                national: u.settings.allow_national,
                mobile: u.settings.allow_mobile,
                international: u.settings.allow_international,
                premium: u.settings.allow_premium,
            },
            None => OutboundPermission::default(),
        };
        if class != NumberClass::Emergency {
            if let Err(denied) = check(&dialled_class, &permission) {
                tracing::info!(%user, %text, ?denied, "outbound call denied");
                return Route::Reject(403);
            }
        }
        let caller_id = self.caller_id_for(user, request);
        let mut trunks = self.trunk_targets(&text);
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
    fn caller_id_for(&self, user: &str, request: Option<CallerIdRequest>) -> Option<String> {
        let main = E164::parse(self.main_number.as_deref()?).ok()?;
        let settings = self.user(user).map(|u| &u.settings);
        let user_settings = UserCallerIdSettings {
            direct_number: settings
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

    /// Every enabled trunk, best priority first, as ring targets for `number` (labelled with the
    /// trunk's name, which the SIP core takes the call slot on).
    pub fn trunk_targets(&self, number: &str) -> Vec<RingTarget> {
        self.trunks
            .iter()
            .filter_map(|t| target_of(t, number))
            .collect()
    }

    /// A user's mobile through the best trunk, if they chose to be rung there, and the delay they
    /// chose before it rings.
    pub fn cellular_target(&self, user: &str) -> Option<(RingTarget, Duration)> {
        let entry = self.user(user)?;
        if !entry.settings.ring_cellular {
            return None;
        }
        let target = self.first_trunk_target(entry.mobile.as_deref()?)?;
        Some((target, entry.settings.cellular_delay()))
    }

    /// The best trunk as a ring target for `number` (a member's mobile: rung through it alone).
    pub fn first_trunk_target(&self, number: &str) -> Option<RingTarget> {
        self.trunks.iter().find_map(|t| target_of(t, number))
    }

    /// Where a stored target (a number's, a queue's overflow) leads, through the opening hours of
    /// the queues and menus on the way.
    pub fn route_target(&self, kind: TargetKind, target_ref: &str, at: DateTime<Utc>) -> Route {
        let mut next = (kind, target_ref.to_string());
        for _ in 0..MAX_CLOSED_HOPS {
            let route = self.lookup(next.0, &next.1);
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
            match self.after_hours(schedule, closed, at) {
                AfterHours::Open => return route,
                AfterHours::Target(kind, r) => next = (kind, r),
                AfterHours::Done(route) => return *route,
            }
        }
        tracing::warn!(kind = %kind, target_ref, "closed targets loop: closed");
        Route::Message(CLOSED_PROMPT.to_string())
    }

    /// Where one of routing's targets (a menu key, a queue overflow, an override) leads.
    pub fn route_routing_target(&self, target: &Target, at: DateTime<Utc>) -> Route {
        match kind_ref(target) {
            Some((kind, r)) => self.route_target(kind, &r, at),
            // Forwarding a public number out through a trunk: not offered by the admin API yet.
            None => Route::Reject(501),
        }
    }

    /// The stored target itself, hours aside.
    fn lookup(&self, kind: TargetKind, target_ref: &str) -> Route {
        let id = target_ref.parse::<i64>();
        match (kind, id) {
            (TargetKind::User, _) => Route::User(target_ref.to_string()),
            (TargetKind::HuntGroup, Ok(id)) => match self.groups.get(&id) {
                Some(g) => Route::Group(g.clone()),
                None => Route::Reject(480),
            },
            (TargetKind::Queue, Ok(id)) => match self.queues.get(&id) {
                Some(q) => Route::Queue(q.clone(), 0),
                None => Route::Reject(480),
            },
            (TargetKind::Menu, Ok(id)) => match self.menus.get(&id) {
                Some(m) => Route::Menu(m.clone(), 0),
                None => Route::Reject(480),
            },
            (TargetKind::Message, _) => Route::Message(target_ref.to_string()),
            _ => Route::Reject(480),
        }
    }

    /// Open, or where a call goes instead, by the schedule `id` (with its override) and the closed
    /// target of the number, queue or menu that follows it.
    fn after_hours(
        &self,
        id: i64,
        closed: Option<(TargetKind, String)>,
        at: DateTime<Utc>,
    ) -> AfterHours {
        match self.opening(id, at) {
            Decision::Open => AfterHours::Open,
            Decision::Redirect { target } => {
                match parse_target(&target).and_then(|t| kind_ref(&t)) {
                    Some((kind, r)) => AfterHours::Target(kind, r),
                    None => {
                        tracing::warn!(%target, "override target unreadable: closed instead");
                        AfterHours::Done(Box::new(Route::Message(CLOSED_PROMPT.to_string())))
                    }
                }
            }
            Decision::Closed { reason } => {
                tracing::info!(schedule = id, ?reason, "closed");
                match (reason, closed) {
                    (ClosedReason::Override(prompt), _) => {
                        AfterHours::Done(Box::new(Route::Message(prompt)))
                    }
                    (_, Some((kind, r))) => AfterHours::Target(kind, r),
                    (_, None) => {
                        AfterHours::Done(Box::new(Route::Message(CLOSED_PROMPT.to_string())))
                    }
                }
            }
        }
    }

    /// Open or closed at `at`, by the schedule `id` and its override. A schedule that is not
    /// there counts as open: a broken reference must not silence the switchboard.
    fn opening(&self, id: i64, at: DateTime<Utc>) -> Decision {
        match self.schedules.get(&id) {
            Some(s) => decide(&s.schedule, s.emergency_override.as_ref(), at),
            None => Decision::Open,
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

/// The SIP transport a stored trunk uses (one mapping for ringing it and for registering it).
pub fn transport_of(transport: TrunkTransport) -> TransportKind {
    match transport {
        TrunkTransport::Udp => TransportKind::Udp,
        TrunkTransport::Tcp => TransportKind::Tcp,
        TrunkTransport::Tls => TransportKind::Tls,
    }
}

fn target_of(trunk: &switchboard_schema::Trunk, number: &str) -> Option<RingTarget> {
    // Carriers' SBCs are addressed by IP here; DNS (SRV/NAPTR) is not done yet.
    let ip: IpAddr = trunk.host.parse().ok()?;
    let addr = SocketAddr::new(ip, u16::try_from(trunk.port).ok()?);
    let transport = transport_of(trunk.transport);
    let uri = sip_message::Uri::parse(format!("sip:{number}@{addr}").as_bytes()).ok()?;
    Some(RingTarget {
        uri,
        peer: Peer {
            transport,
            addr,
            connection: None,
        },
        label: BranchLabel::direct(trunk.name.clone()),
        ring_timeout: Some(TRUNK_RING_TIMEOUT),
        confirm: false,
        caller_id: None,
        srtp: switchboard_media::srtp::SrtpPolicy::Off,
    })
}
