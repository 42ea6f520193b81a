//! Callbacks instead of waiting: the offer ("press 2"), which number to call back (the one the
//! citizen calls from, or one they key in), booking, and carrying the callback out when the turn
//! comes (the agent is rung first, then the citizen).

use std::time::{Duration, Instant};

use sip_core::b2bua::CallRef;
use switchboard_media::playback::PlayMode;
use switchboard_routing::numbers::{
    classify_dialled, Dialled, NumberClass, PlanSettings, PublicNumber,
};
use switchboard_routing::queue::CallId;
use switchboard_schema::QueueOutcome;

use super::{Callback, Stage};
use crate::{CallControl, Notice};

/// How long we wait for the first key after the "which number" question, and between keys.
const KEY_WAIT: Duration = Duration::from_secs(8);
const BETWEEN_KEYS: Duration = Duration::from_secs(5);
/// Wrong numbers keyed before we give up and the caller simply waits on.
const MAX_TRIES: u8 = 3;
/// Longer than any number we would call back.
const MAX_DIGITS: usize = 16;

/// A caller who pressed for a callback is telling us which number to call.
#[derive(Debug, Clone)]
pub(crate) struct Keying {
    digits: String,
    /// Set when the question has been heard; `None` while it plays.
    deadline: Option<Instant>,
    tries: u8,
    /// The number they call from, if we can call it back (not anonymous, not abroad).
    own: Option<String>,
}

/// A number the municipality will call back: a Norwegian landline or mobile number, in E.164.
/// Premium-rate, special, international and short numbers are refused (toll fraud by callback).
pub(super) fn callable(text: &str) -> Option<String> {
    match classify_dialled(text, &PlanSettings::default()) {
        Dialled::Public {
            class: NumberClass::NationalGeographic | NumberClass::NationalMobile,
            number: PublicNumber::E164(e),
        } => Some(e.as_str().to_string()),
        _ => None,
    }
}

impl Keying {
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

impl CallControl {
    pub(super) fn offer_callback(&mut self, call: CallRef) {
        let Some(Stage::Queue {
            speaking,
            callback_offered,
            ..
        }) = self.stage_mut(call)
        else {
            return;
        };
        *callback_offered = true;
        *speaking = true;
        tracing::info!(call = call.0, "callback offered");
        self.play(call, &["callback_offer"], PlayMode::Once, false);
    }

    /// The caller accepted the offer: ask which number (or, if we cannot call theirs, for one).
    pub(super) fn ask_callback_number(&mut self, call: CallRef) {
        let own = self.calls.get(&call).and_then(|c| callable(&c.caller));
        let Some(local) = self.local_mut(call) else {
            return;
        };
        let Stage::Queue {
            speaking, keying, ..
        } = &mut local.stage
        else {
            return;
        };
        let question = if own.is_some() {
            "callback_number"
        } else {
            "callback_enter_number"
        };
        *speaking = true;
        *keying = Some(Box::new(Keying {
            digits: String::new(),
            deadline: None,
            tries: 0,
            own,
        }));
        tracing::info!(call = call.0, "callback: asking which number");
        self.play(call, &[question], PlayMode::Once, true);
    }

    /// A key while the caller tells us the number. Returns false when the caller is not keying.
    pub(super) fn callback_key(&mut self, call: CallRef, key: char, now: Instant) -> bool {
        let Some(Stage::Queue {
            keying: Some(k), ..
        }) = self.stage_mut(call)
        else {
            return false;
        };
        match key {
            '1' if k.digits.is_empty() && k.own.is_some() => {
                let own = k.own.clone().unwrap_or_default();
                self.book_callback(call, own, "callback_confirmed", now);
            }
            '0'..='9' if k.digits.len() < MAX_DIGITS => {
                k.digits.push(key);
                k.deadline = Some(now + BETWEEN_KEYS);
            }
            '#' => self.callback_number_keyed(call, now),
            // Star: never mind, keep waiting in the queue.
            '*' => self.stop_keying(call),
            _ => {}
        }
        true
    }

    /// The question finished playing (or a key cut it short): the caller's time to key starts.
    pub(super) fn callback_question_heard(&mut self, call: CallRef, now: Instant) -> bool {
        match self.stage_mut(call) {
            Some(Stage::Queue {
                keying: Some(k),
                speaking,
                ..
            }) => {
                *speaking = false;
                k.deadline.get_or_insert(now + KEY_WAIT);
                true
            }
            _ => false,
        }
    }

    /// Callers who stopped keying: what they keyed is the number; nothing at all means the number
    /// they call from (what the question offers as "1"), or, without one, waiting on.
    pub(super) fn keying_timeouts(&mut self, now: Instant) {
        let due: Vec<(CallRef, bool, Option<String>)> = self
            .calls
            .iter()
            .filter_map(|(call, c)| match c.local.as_ref().map(|l| &l.stage) {
                Some(Stage::Queue {
                    keying: Some(k), ..
                }) if k.deadline.is_some_and(|d| d <= now) => {
                    Some((*call, k.digits.is_empty(), k.own.clone()))
                }
                _ => None,
            })
            .collect();
        for (call, nothing_keyed, own) in due {
            match (nothing_keyed, own) {
                (false, _) => self.callback_number_keyed(call, now),
                (true, Some(own)) => self.book_callback(call, own, "callback_confirmed", now),
                (true, None) => self.stop_keying(call),
            }
        }
    }

    /// The caller finished keying a number: book it, or say it cannot be called and ask again.
    fn callback_number_keyed(&mut self, call: CallRef, now: Instant) {
        let Some(Stage::Queue {
            keying: Some(k),
            speaking,
            ..
        }) = self.stage_mut(call)
        else {
            return;
        };
        let keyed = std::mem::take(&mut k.digits);
        if let Some(number) = callable(&keyed) {
            return self.book_callback(call, number, "callback_booked_number", now);
        }
        tracing::info!(call = call.0, %keyed, "callback: a number we will not call");
        k.tries += 1;
        if k.tries >= MAX_TRIES {
            return self.stop_keying(call);
        }
        k.deadline = None;
        *speaking = true;
        self.play(
            call,
            &["callback_invalid_number", "callback_enter_number"],
            PlayMode::Once,
            true,
        );
    }

    /// Back to waiting with music; the caller may press for a callback again.
    fn stop_keying(&mut self, call: CallRef) {
        if let Some(Stage::Queue {
            keying, speaking, ..
        }) = self.stage_mut(call)
        {
            *keying = None;
            *speaking = false;
        }
        tracing::info!(call = call.0, "callback: not booked, waiting on");
        self.hold_music(call);
    }

    /// Keeps the caller's place for a callback to `number`, confirms, and (after the confirmation)
    /// hangs up.
    fn book_callback(&mut self, call: CallRef, number: String, confirmation: &str, now: Instant) {
        if !self
            .acd
            .handle_callback_request(now, CallId(call.0), &number)
        {
            return self.stop_keying(call);
        }
        tracing::info!(call = call.0, %number, "callback booked");
        if let Some(visit) = self.local(call).and_then(|l| l.queue) {
            self.notice(Notice::CallbackRequested {
                queue: i64::try_from(visit.id).unwrap_or(i64::MAX),
                call: call.0,
                number: number.clone(),
            });
        }
        self.queue_left(call, QueueOutcome::Callback, now);
        if let Some(stage) = self.stage_mut(call) {
            *stage = Stage::CallbackBooked;
        }
        self.play(call, &[confirmation], PlayMode::Once, false);
    }

    /// The call we placed for a callback exists (`Some`) or could not be placed (the agent has no
    /// phone registered).
    pub(crate) fn callback_started(
        &mut self,
        now: Instant,
        id: CallId,
        user: String,
        call: Option<CallRef>,
    ) {
        match call {
            Some(call) => {
                let entry = self.calls.entry(call).or_default();
                entry.caller = user.clone();
                entry.callback = Some(Callback {
                    id,
                    user,
                    agent_answered: false,
                });
            }
            None => {
                self.acd.handle_offer_failed(now, id, &user);
                self.carry_out_acd(now);
            }
        }
    }

    /// The number a booked callback goes to.
    pub(crate) fn callback_number(&self, id: CallId) -> Option<String> {
        self.callback_numbers.get(&id).cloned()
    }

    /// The agent answered the call we placed for a callback.
    pub(crate) fn callback_agent_answered(&mut self, now: Instant, call: CallRef) {
        let Some(cb) = self.calls.get_mut(&call).and_then(|c| c.callback.as_mut()) else {
            return;
        };
        cb.agent_answered = true;
        let (id, user) = (cb.id, cb.user.clone());
        self.acd.handle_offer_answered(now, id, &user);
        self.carry_out_acd(now);
    }
}
