//! Hunt groups in call control: ringing members' phones and mobiles in the order the group's
//! strategy gives, the press-1 confirmation of mobile legs, and what a group remembers between
//! calls.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip_core::b2bua::{BranchLabel, CallCommand, CallRef, LegId};
use switchboard_media::playback::PlayMode;
use switchboard_media::relay::InbandLaw;
use switchboard_routing::hunt::{
    BusyPolicy, CellularConfig, FailReason, HuntAction, HuntCall, HuntGroup, Leg, Member,
    MemberPresence, Strategy,
};
use switchboard_schema::{BusyPolicy as DbBusyPolicy, HuntGroup as DbHuntGroup, HuntStrategy};

use crate::{codec_spec, ActiveHunt, CallControl, Confirmation, MediaCommand};

/// How long a cellular answerer has to press 1 (the prompt lasts about 4 s).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// "Anrop fra sentralbordet. Trykk 1 for å svare." (the prompt set's `confirm`).
const CONFIRM_PROMPT: &str = "confirm";

impl CallControl {
    /// A cellular leg answered: ask it to press 1, and listen for the digit.
    pub(crate) fn start_confirmation(
        &mut self,
        now: Instant,
        call: CallRef,
        label: BranchLabel,
        leg: LegId,
        codec: (String, u8),
    ) {
        let member = label.name.clone();
        tracing::info!(%member, "cellular leg answered: asking for 1");
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(h) = c.hunt.as_mut() {
            h.hunt.handle_confirming(&member, now);
        }
        c.confirmations.insert(
            leg,
            Confirmation {
                label,
                deadline: now + CONFIRM_TIMEOUT,
            },
        );
        self.by_leg.insert(leg, call);
        self.media(MediaCommand::SetDtmf {
            leg,
            forward: false,
            inband: Some(InbandLaw::Pcmu),
        });
        if let Some(codec) = codec_spec(&codec) {
            self.media(MediaCommand::Play {
                leg,
                prompts: vec![CONFIRM_PROMPT.to_string()],
                mode: PlayMode::Once,
                interruptible: true,
                codec,
            });
        }
    }

    /// The leg pressed a key (`confirmed` when it was 1) or ran out of time.
    pub(crate) fn end_confirmation(&mut self, leg: LegId, confirmed: bool) {
        let Some(call) = self.by_leg.remove(&leg) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(conf) = c.confirmations.remove(&leg) else {
            return;
        };
        let mut stop = vec![leg];
        if confirmed {
            // Another mobile still being asked for this call has lost (each has its own relay
            // leg): the SIP side hangs it up; stop asking it.
            stop.extend(c.confirmations.drain().map(|(l, _)| l));
        }
        for &l in &stop {
            self.by_leg.remove(&l);
            self.media(MediaCommand::StopPlayback { leg: l });
        }
        self.media(MediaCommand::SetDtmf {
            leg,
            forward: true,
            inband: None,
        });
        let label = conf.label;
        self.sip(if confirmed {
            CallCommand::Confirm { call, label }
        } else {
            CallCommand::Decline { call, label }
        });
    }

    pub(crate) fn start_hunt(&mut self, now: Instant, call: CallRef, group: &DbHuntGroup) {
        self.show_via(call, &group.name);
        // Whose mobile also rings, after what delay, and whether it must confirm.
        let mut mobiles = HashMap::new();
        let mut cellular = HashMap::new();
        for m in &group.members {
            let Some(user) = self.config.user(&m.username) else {
                continue;
            };
            if let (true, Some(mobile)) = (user.settings.ring_cellular, &user.mobile) {
                cellular.insert(
                    m.username.clone(),
                    CellularConfig {
                        delay: user.settings.cellular_delay(),
                        confirm: group.confirm_cellular || user.settings.confirm_cellular,
                    },
                );
                mobiles.insert(m.username.clone(), mobile.clone());
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
        // In a call, or said so: the group's busy policy applies.
        let busy: Vec<String> = group
            .members
            .iter()
            .filter(|m| self.live.in_call(&m.username) || self.says_busy(&m.username))
            .map(|m| m.username.clone())
            .collect();
        let dnd: Vec<String> = group
            .members
            .iter()
            .filter(|m| self.on_dnd(&m.username))
            .map(|m| m.username.clone())
            .collect();
        let state = self.live.group_memory(group.id);
        // Registration is learnt when the member is rung (an unregistered member fails at once).
        let presence = |member: &str| MemberPresence {
            logged_in: !dnd.iter().any(|d| d == member),
            cellular: mobiles.contains_key(member),
            busy: busy.iter().any(|b| b == member),
            ..MemberPresence::default()
        };
        match HuntCall::start(&spec, state, now, presence) {
            Ok(hunt) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.hunt = Some(ActiveHunt {
                        group_id: group.id,
                        hunt,
                        mobiles,
                    });
                }
                self.carry_out_hunt(now, call);
            }
            Err(e) => {
                tracing::warn!(group = %group.name, error = %e, "hunt group unusable");
                self.sip(CallCommand::Reject { call, status: 480 });
            }
        }
    }

    /// Turns what the hunt decided into commands.
    pub(crate) fn carry_out_hunt(&mut self, now: Instant, call: CallRef) {
        loop {
            let mut unreachable = Vec::new();
            let mut onward = None;
            let mut commands = Vec::new();
            let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hunt.as_mut()) else {
                return;
            };
            while let Some(action) = h.hunt.poll_action() {
                match action {
                    HuntAction::Ring {
                        member,
                        leg: Leg::App,
                        ..
                    } => commands.push(CallCommand::RingMember {
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
                        let target = h
                            .mobiles
                            .get(&member)
                            .and_then(|mobile| self.config.first_trunk_target(mobile));
                        match target {
                            Some(mut t) => {
                                t.label = BranchLabel::cellular(member.clone());
                                t.confirm = confirm;
                                tracing::info!(%member, "ringing the member's mobile");
                                commands.push(CallCommand::Ring {
                                    call,
                                    targets: vec![t],
                                });
                            }
                            None => unreachable.push(member),
                        }
                    }
                    HuntAction::Cancel { member, leg } => {
                        let label = match leg {
                            Leg::App => BranchLabel::direct(member),
                            Leg::Cellular => BranchLabel::cellular(member),
                        };
                        commands.push(CallCommand::CancelBranch { call, label });
                    }
                    HuntAction::Connect { .. } => {}
                    HuntAction::Exhausted { no_answer } => {
                        tracing::info!(?no_answer, "hunt group: nobody answered");
                        match no_answer {
                            Some(target) => onward = Some(target),
                            None => commands.push(CallCommand::Reject { call, status: 480 }),
                        }
                    }
                }
            }
            for c in commands {
                self.sip(c);
            }
            if let Some(target) = onward {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.hunt = None;
                }
                let next = self.config.route_routing_target(&target, self.wall(now));
                return self.route_onward(now, call, next);
            }
            if unreachable.is_empty() {
                return;
            }
            if let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hunt.as_mut()) {
                for member in unreachable {
                    h.hunt
                        .handle_failed(&member, Leg::Cellular, FailReason::Unreachable, now);
                }
            }
        }
    }
}

pub(crate) fn fail_reason(status: u16) -> FailReason {
    match status {
        486 | 600 => FailReason::Busy,
        // Our own code for a cellular leg that answered but did not press 1.
        603 => FailReason::Declined,
        487 | 408 => FailReason::NoAnswer,
        _ => FailReason::Unreachable,
    }
}
