//! Hunt groups in call control: ringing members' phones and mobiles in the order the group's strategy
//! gives, the press-1 confirmation of mobile legs, and what a group remembers between calls.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip_core::b2bua::{CallRef, RingTarget};
use sip_transport::Command;
use switchboard_media_rt::{InbandLaw, LegId, PlayMode, Playlist};
use switchboard_routing::hunt::{
    BusyPolicy, CellularConfig, FailReason, HuntAction, HuntCall, HuntGroup, Leg, Member,
    MemberPresence, Strategy,
};
use switchboard_schema::Db;
use switchboard_schema::{BusyPolicy as DbBusyPolicy, HuntGroup as DbHuntGroup, HuntStrategy};
use tokio::sync::mpsc;

use super::routes::{route_routing_target, trunk_target};
use super::{codec_spec, parse_label, ActiveHunt, Confirmation, Orchestrator, CELLULAR};

/// How long a cellular answerer has to press 1 (the prompt lasts about 4 s).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// "Anrop fra sentralbordet. Trykk 1 for å svare." (the prompt set's `confirm`).
const CONFIRM_PROMPT: &str = "confirm";

impl Orchestrator {
    /// A cellular leg answered: ask it to press 1, and listen for the digit.
    pub(super) async fn start_confirmation(
        &mut self,
        db: &Db,
        call: CallRef,
        label: String,
        leg: LegId,
        codec: (String, u8),
    ) {
        let (member, _) = parse_label(&label);
        tracing::info!(%member, "cellular leg answered: asking for 1");
        if let Some(h) = self.hunts.get_mut(&call) {
            h.hunt.handle_confirming(&member, Instant::now());
        }
        let _ = self.media.set_dtmf(leg, false, Some(InbandLaw::Pcmu));
        let prompt = self.citizen.prompt(db, CONFIRM_PROMPT).await;
        if let (Some(prompt), Some(spec)) = (prompt, codec_spec(&codec)) {
            let _ = self
                .media
                .play(leg, Playlist::new([prompt]), PlayMode::Once, true, spec);
        }
        self.confirmations.insert(
            leg,
            Confirmation {
                call,
                label,
                deadline: Instant::now() + CONFIRM_TIMEOUT,
            },
        );
    }

    pub(super) async fn end_confirmation(
        &mut self,
        sip: &mpsc::Sender<Command>,
        leg: LegId,
        confirmed: bool,
    ) {
        let Some(c) = self.confirmations.remove(&leg) else {
            return;
        };
        let _ = self.media.stop_playback(leg);
        let _ = self.media.set_dtmf(leg, true, None);
        if confirmed {
            // Another mobile still being asked for this call has lost (each has its own relay
            // leg): the SIP side hangs it up; stop asking it.
            let losers: Vec<LegId> = self
                .confirmations
                .iter()
                .filter(|(_, o)| o.call == c.call)
                .map(|(l, _)| *l)
                .collect();
            for loser in losers {
                self.confirmations.remove(&loser);
                let _ = self.media.stop_playback(loser);
            }
        }
        let cmd = if confirmed {
            Command::Confirm {
                call: c.call,
                label: c.label,
            }
        } else {
            Command::Decline {
                call: c.call,
                label: c.label,
            }
        };
        let _ = sip.send(cmd).await;
    }

    pub(super) async fn start_hunt(
        &mut self,
        db: &Db,
        sip: &mpsc::Sender<Command>,
        call: CallRef,
        group: &DbHuntGroup,
    ) {
        // Whose mobile also rings, after what delay, and whether it must confirm.
        let mut mobiles = HashMap::new();
        let mut cellular = HashMap::new();
        for m in &group.members {
            let settings = db.user_call_settings(&m.username).await.ok().flatten();
            let mobile = db
                .get_user(&m.username)
                .await
                .ok()
                .flatten()
                .and_then(|u| u.mobile);
            if let (Some(s), Some(mobile)) = (settings, mobile) {
                if s.ring_cellular {
                    cellular.insert(
                        m.username.clone(),
                        CellularConfig {
                            delay: s.cellular_delay(),
                            confirm: group.confirm_cellular || s.confirm_cellular,
                        },
                    );
                    mobiles.insert(m.username.clone(), mobile);
                }
            }
        }
        let strategy = match group.strategy {
            HuntStrategy::RingAll => Strategy::RingAll,
            HuntStrategy::Sequential => Strategy::Sequential,
            HuntStrategy::RoundRobin => Strategy::RoundRobin,
            HuntStrategy::LongestIdle => Strategy::LongestIdle,
        };
        let members = group
            .members
            .iter()
            .map(|m| {
                let mut member = Member::new(m.username.clone());
                member.ring_time = m
                    .ring_time_secs
                    .map(|s| Duration::from_secs(s.max(1) as u64));
                member.cellular = cellular.get(&m.username).copied();
                member
            })
            .collect();
        let mut spec = HuntGroup::new(group.id as u64, strategy, members);
        spec.ring_time = Duration::from_secs(group.ring_time_secs.max(1) as u64);
        spec.timeout = Duration::from_secs(group.timeout_secs.max(1) as u64);
        spec.no_answer = match (group.no_answer_kind, group.no_answer_ref.as_deref()) {
            (Some(kind), Some(r)) => {
                switchboard_routing::menu::parse_target(&format!("{}:{r}", kind.as_str()))
            }
            _ => None,
        };
        spec.busy = match group.busy_policy {
            DbBusyPolicy::Skip => BusyPolicy::Skip,
            DbBusyPolicy::RingAnyway => BusyPolicy::RingAnyway,
            DbBusyPolicy::CallWaiting => BusyPolicy::CallWaiting,
        };
        let busy: Vec<String> = group
            .members
            .iter()
            .filter(|m| self.is_talking(&m.username))
            .map(|m| m.username.clone())
            .collect();
        let state = self.groups.entry(group.id).or_default();
        // Registration is learnt when the member is rung (an unregistered member fails at once).
        let presence = |member: &str| MemberPresence {
            cellular: mobiles.contains_key(member),
            busy: busy.iter().any(|b| b == member),
            ..MemberPresence::default()
        };
        match HuntCall::start(&spec, state, Instant::now(), presence) {
            Ok(hunt) => {
                self.hunts.insert(
                    call,
                    ActiveHunt {
                        group_id: group.id,
                        hunt,
                        mobiles,
                    },
                );
                self.carry_out(db, sip, call).await;
            }
            Err(e) => {
                tracing::warn!(group = %group.name, error = %e, "hunt group unusable");
                let _ = sip.send(Command::Reject { call, status: 480 }).await;
            }
        }
    }

    /// Turns what the hunt decided into transport commands.
    pub(super) async fn carry_out(&mut self, db: &Db, sip: &mpsc::Sender<Command>, call: CallRef) {
        let mut commands = Vec::new();
        let mut unreachable = Vec::new();
        let mut onward = None;
        if let Some(h) = self.hunts.get_mut(&call) {
            while let Some(action) = h.hunt.poll_action() {
                match action {
                    HuntAction::Ring {
                        member,
                        leg: Leg::App,
                        ..
                    } => commands.push(Command::RingMember {
                        call,
                        user: member,
                        ring_timeout: None,
                    }),
                    HuntAction::Ring {
                        member,
                        leg: Leg::Cellular,
                        confirm,
                        ..
                    } => {
                        let target = match h.mobiles.get(&member) {
                            Some(mobile) => trunk_target(db, mobile).await,
                            None => None,
                        };
                        match target {
                            Some(mut t) => {
                                t.label = format!("{member}{CELLULAR}");
                                t.confirm = confirm;
                                tracing::info!(%member, "ringing the member's mobile");
                                commands.push(Command::Ring {
                                    call,
                                    targets: vec![t],
                                });
                            }
                            None => unreachable.push(member),
                        }
                    }
                    HuntAction::Cancel { member, leg } => {
                        let label = match leg {
                            Leg::App => member,
                            Leg::Cellular => format!("{member}{CELLULAR}"),
                        };
                        commands.push(Command::CancelBranch { call, label });
                    }
                    HuntAction::Connect { .. } => {}
                    HuntAction::Exhausted { no_answer } => {
                        tracing::info!(?no_answer, "hunt group: nobody answered");
                        match no_answer {
                            Some(target) => onward = Some(target),
                            None => commands.push(Command::Reject { call, status: 480 }),
                        }
                    }
                }
            }
        }
        for c in commands {
            let _ = sip.send(c).await;
        }
        if let Some(target) = onward {
            self.hunts.remove(&call);
            let next = route_routing_target(db, &target).await;
            return Box::pin(self.route_onward(db, sip, call, next)).await;
        }
        if !unreachable.is_empty() {
            if let Some(h) = self.hunts.get_mut(&call) {
                for member in unreachable {
                    h.hunt.handle_failed(
                        &member,
                        Leg::Cellular,
                        FailReason::Unreachable,
                        Instant::now(),
                    );
                }
            }
            Box::pin(self.carry_out(db, sip, call)).await;
        }
    }
}

pub(super) fn fail_reason(status: u16) -> FailReason {
    match status {
        486 | 600 => FailReason::Busy,
        // Our own code for a cellular leg that answered but did not press 1.
        603 => FailReason::Declined,
        487 | 408 => FailReason::NoAnswer,
        _ => FailReason::Unreachable,
    }
}

/// A user's mobile through the trunk, if they chose to be rung there, and the delay they chose
/// before it rings.
pub(super) async fn cellular_target(db: &Db, user: &str) -> Option<(RingTarget, Duration)> {
    let settings = db.user_call_settings(user).await.ok().flatten()?;
    if !settings.ring_cellular {
        return None;
    }
    let mobile = db.get_user(user).await.ok().flatten()?.mobile?;
    Some((trunk_target(db, &mobile).await?, settings.cellular_delay()))
}
