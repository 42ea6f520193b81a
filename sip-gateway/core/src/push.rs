//! Push wake-up of staff apps (RFC 8599), the sans-IO half.
//!
//! A phone app cannot keep its SIP connection open in the background, so it registers with push
//! parameters in its Contact URI (`pn-provider`, `pn-prid`, `pn-param`). [`PushDevices`] remembers
//! them beyond the registration: when the binding expires or its connection closes, the device is
//! still known. When a call rings a user whose device has no live binding, [`PushWaits`] holds that
//! branch: it asks the shell to send a push ([`PushRequest`]) and waits, bounded by the branch's ring
//! time, for the app to register again; the endpoint then sends the INVITE to the new binding. The
//! shell talks HTTP to Firebase or APNs and reports back ([`PushOutcome`]).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sip_message::Uri;

use crate::b2bua::{BranchLabel, CallRef};

/// The push services a device can name in `pn-provider` (RFC 8599 §12, §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushProvider {
    /// Firebase Cloud Messaging (Android, and iOS apps that use Firebase).
    Fcm,
    /// Apple Push Notification service (iOS VoIP pushes).
    Apns,
}

impl PushProvider {
    pub fn parse(name: &str) -> Option<PushProvider> {
        match name.to_ascii_lowercase().as_str() {
            "fcm" => Some(PushProvider::Fcm),
            "apns" => Some(PushProvider::Apns),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PushProvider::Fcm => "fcm",
            PushProvider::Apns => "apns",
        }
    }
}

/// A push-capable app installation of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushDevice {
    pub aor: String,
    pub provider: PushProvider,
    /// The provider's token for the installation (`pn-prid`).
    pub prid: String,
    /// Provider-specific: the FCM project ID, or the APNs team ID and topic (`pn-param`).
    pub param: Option<String>,
    /// When it last registered (unix seconds).
    pub registered_unix: i64,
}

/// The longest token we keep (FCM tokens are ~160 characters, APNs 64 hex digits).
const MAX_PRID_LEN: usize = 512;
/// Devices one user may have (phones, tablets): more are refused, oldest kept.
const MAX_DEVICES_PER_USER: usize = 10;

/// The push parameters of a Contact URI: provider, token and parameter. `None` when it has none,
/// names a provider we do not serve, or carries an empty or oversized token.
pub fn push_params(contact_uri: &str) -> Option<(PushProvider, String, Option<String>)> {
    // Every REGISTER's contacts come through here: most carry no push parameters, and finding
    // that out must not cost a URI parse.
    if !contains_ignore_case(contact_uri.as_bytes(), b"pn-provider") {
        return None;
    }
    let uri = Uri::parse(contact_uri.as_bytes()).ok()?;
    let sip = uri.as_sip()?;
    let provider = PushProvider::parse(sip.params.get_value("pn-provider")?)?;
    let prid = sip.params.get_value("pn-prid")?;
    if prid.is_empty() || prid.len() > MAX_PRID_LEN {
        return None;
    }
    let param = sip
        .params
        .get_value("pn-param")
        .filter(|p| !p.is_empty() && p.len() <= MAX_PRID_LEN)
        .map(str::to_string);
    Some((provider, prid.to_string(), param))
}

/// Whether `haystack` contains `needle` (ASCII, case-insensitive), without allocating.
pub(crate) fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A change to the devices, for persistence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    Upsert(PushDevice),
    Remove { aor: String, prid: String },
}

/// Push-capable devices by user.
#[derive(Debug, Default)]
pub struct PushDevices {
    by_aor: HashMap<String, Vec<PushDevice>>,
    changes: Vec<DeviceChange>,
}

impl PushDevices {
    /// Devices persisted before a restart.
    pub fn restore(&mut self, devices: Vec<PushDevice>) {
        for d in devices {
            let list = self.by_aor.entry(d.aor.clone()).or_default();
            if list.len() < MAX_DEVICES_PER_USER && !list.iter().any(|x| x.prid == d.prid) {
                list.push(d);
            }
        }
    }

    /// A REGISTER bound (or refreshed) a contact of `aor` carrying push parameters.
    pub fn registered(&mut self, aor: &str, contact_uri: &str, now_unix: i64) {
        let Some((provider, prid, param)) = push_params(contact_uri) else {
            return;
        };
        let list = self.by_aor.entry(aor.to_string()).or_default();
        let device = PushDevice {
            aor: aor.to_string(),
            provider,
            prid,
            param,
            registered_unix: now_unix,
        };
        match list.iter().position(|d| d.prid == device.prid) {
            Some(i) => list[i] = device.clone(),
            None if list.len() >= MAX_DEVICES_PER_USER => return,
            None => list.push(device.clone()),
        }
        self.changes.push(DeviceChange::Upsert(device));
    }

    /// The app unregistered the contact itself (Expires: 0): it no longer wants calls there.
    pub fn unregistered(&mut self, aor: &str, contact_uri: &str) {
        if let Some((_, prid, _)) = push_params(contact_uri) {
            self.forget(aor, &prid);
        }
    }

    /// Forgets one device (unregistered, or its token is no longer valid).
    pub fn forget(&mut self, aor: &str, prid: &str) -> bool {
        let Some(list) = self.by_aor.get_mut(aor) else {
            return false;
        };
        let before = list.len();
        list.retain(|d| d.prid != prid);
        let removed = list.len() != before;
        if list.is_empty() {
            self.by_aor.remove(aor);
        }
        if removed {
            self.changes.push(DeviceChange::Remove {
                aor: aor.to_string(),
                prid: prid.to_string(),
            });
        }
        removed
    }

    /// Forgets every device of a user (unregistered with `Contact: *`, or removed).
    pub fn forget_user(&mut self, aor: &str) {
        let prids: Vec<String> = self.devices(aor).iter().map(|d| d.prid.clone()).collect();
        for prid in prids {
            self.forget(aor, &prid);
        }
    }

    pub fn devices(&self, aor: &str) -> &[PushDevice] {
        self.by_aor.get(aor).map_or(&[], Vec::as_slice)
    }

    pub fn all(&self) -> impl Iterator<Item = &PushDevice> {
        self.by_aor.values().flatten()
    }

    pub fn drain_changes(&mut self) -> Vec<DeviceChange> {
        std::mem::take(&mut self.changes)
    }
}

/// A push the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    /// Answered by [`PushOutcome`] with the same id.
    pub id: u64,
    pub device: PushDevice,
    /// The citizen's call, as the app will see it (the inbound Call-ID).
    pub call_id: String,
    /// Who is calling (the number shown).
    pub caller: String,
    /// How long the app has to register: the push is worthless after that.
    pub time_to_live: Duration,
}

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The provider accepted it.
    Sent,
    /// The provider says the token is not (or no longer) valid: forget the device.
    InvalidToken,
    /// It could not be sent (after the shell's retries): the branch will not be woken.
    Failed(String),
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    pub requested: u64,
    pub sent: u64,
    pub failed: u64,
    pub invalid_tokens: u64,
    /// Calls sent to an app that registered after its push.
    pub delivered_after_push: u64,
    /// Waits that ended without the app registering.
    pub unanswered: u64,
}

/// A branch held until a device registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub call: CallRef,
    pub label: BranchLabel,
    pub aor: String,
    pub prid: String,
    /// The push sent for it.
    pub request: u64,
    pub started: Instant,
    /// When the branch's ring time runs out (the wait counts against it).
    pub ring_until: Instant,
}

impl Waiting {
    /// The ring time left for the INVITE sent once the app registers.
    pub fn ring_time_left(&self, now: Instant) -> Duration {
        self.ring_until.saturating_duration_since(now)
    }
}

/// Branches waiting for a push to wake their app, and the pushes to send.
#[derive(Debug, Default)]
pub struct PushWaits {
    waiting: Vec<Waiting>,
    requests: VecDeque<PushRequest>,
    next_id: u64,
    stats: PushStats,
}

impl PushWaits {
    /// Holds `label` of `call` until `device` registers or `ring_until` passes, and asks for its push.
    pub fn wait_for(
        &mut self,
        now: Instant,
        (call, label): (CallRef, BranchLabel),
        device: &PushDevice,
        ring_until: Instant,
        (call_id, caller): (&str, &str),
    ) {
        self.next_id += 1;
        let id = self.next_id;
        self.requests.push_back(PushRequest {
            id,
            device: device.clone(),
            call_id: call_id.to_string(),
            caller: caller.to_string(),
            time_to_live: ring_until.saturating_duration_since(now),
        });
        self.stats.requested += 1;
        self.waiting.push(Waiting {
            call,
            label,
            aor: device.aor.clone(),
            prid: device.prid.clone(),
            request: id,
            started: now,
            ring_until,
        });
    }

    /// Whether any branch waits for an app (most of the time none does).
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn poll_request(&mut self) -> Option<PushRequest> {
        self.requests.pop_front()
    }

    /// `prid` of `aor` registered: the branches that waited for it, to be rung now.
    pub fn woken(&mut self, aor: &str, prid: &str) -> Vec<Waiting> {
        let (woken, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.aor == aor && w.prid == prid);
        self.waiting = rest;
        self.stats.delivered_after_push += woken.len() as u64;
        woken
    }

    /// The shell's report on push `id`: the waits it can no longer wake (the push failed), and
    /// the device to forget when the token is invalid.
    pub fn handle_outcome(&mut self, id: u64, outcome: &PushOutcome) -> Vec<Waiting> {
        match outcome {
            PushOutcome::Sent => {
                self.stats.sent += 1;
                Vec::new()
            }
            PushOutcome::InvalidToken | PushOutcome::Failed(_) => {
                self.stats.failed += 1;
                if *outcome == PushOutcome::InvalidToken {
                    self.stats.invalid_tokens += 1;
                }
                let (failed, rest) = std::mem::take(&mut self.waiting)
                    .into_iter()
                    .partition(|w| w.request == id);
                self.waiting = rest;
                failed
            }
        }
    }

    /// Drops the waits of `label` on `call` (the hunt moved on, the offer was withdrawn).
    pub fn cancel(&mut self, call: CallRef, label: &BranchLabel) {
        self.waiting
            .retain(|w| !(w.call == call && &w.label == label));
    }

    /// Drops every wait of `call` (it ended or was answered).
    pub fn cancel_call(&mut self, call: CallRef) {
        self.waiting.retain(|w| w.call != call);
    }

    /// Whether `label` of `call` still waits for an app.
    pub fn is_waiting(&self, call: CallRef, label: &BranchLabel) -> bool {
        self.waiting
            .iter()
            .any(|w| w.call == call && &w.label == label)
    }

    /// Waits whose ring time ran out without the app registering.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Waiting> {
        let (expired, rest) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.ring_until <= now);
        self.waiting = rest;
        self.stats.unanswered += expired.len() as u64;
        expired
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.ring_until).min()
    }

    pub fn stats(&self) -> PushStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str =
        "sip:1001@192.0.2.7:5060;transport=tcp;pn-provider=fcm;pn-prid=tok-1;pn-param=proj";

    #[test]
    fn push_parameters_are_read_from_the_contact_uri() {
        let (provider, prid, param) = push_params(APP).expect("push parameters");
        assert_eq!(provider, PushProvider::Fcm);
        assert_eq!(prid, "tok-1");
        assert_eq!(param.as_deref(), Some("proj"));
        assert_eq!(push_params("sip:1001@192.0.2.7"), None);
        assert_eq!(
            push_params("sip:1001@h;pn-provider=webpush;pn-prid=x"),
            None,
            "a provider we do not serve"
        );
        assert_eq!(push_params("sip:1001@h;pn-provider=apns;pn-prid="), None);
        let long = format!("sip:1001@h;pn-provider=apns;pn-prid={}", "a".repeat(600));
        assert_eq!(push_params(&long), None, "an oversized token");
        assert_eq!(push_params("not a uri \u{0}"), None);
    }

    #[test]
    fn a_device_outlives_its_binding_until_it_unregisters() {
        let mut devices = PushDevices::default();
        devices.registered("1001", APP, 100);
        devices.registered("1001", APP, 160);
        assert_eq!(devices.devices("1001").len(), 1);
        assert_eq!(devices.devices("1001")[0].registered_unix, 160);
        assert_eq!(devices.drain_changes().len(), 2);
        devices.unregistered("1001", APP);
        assert!(devices.devices("1001").is_empty());
        assert_eq!(
            devices.drain_changes(),
            vec![DeviceChange::Remove {
                aor: "1001".into(),
                prid: "tok-1".into()
            }]
        );
    }

    #[test]
    fn a_user_keeps_a_bounded_number_of_devices() {
        let mut devices = PushDevices::default();
        for i in 0..(MAX_DEVICES_PER_USER + 5) {
            let uri = format!("sip:1001@h;pn-provider=fcm;pn-prid=t{i}");
            devices.registered("1001", &uri, 1);
        }
        assert_eq!(devices.devices("1001").len(), MAX_DEVICES_PER_USER);
    }

    fn device() -> PushDevice {
        PushDevice {
            aor: "1001".into(),
            provider: PushProvider::Fcm,
            prid: "tok-1".into(),
            param: None,
            registered_unix: 0,
        }
    }

    #[test]
    fn a_wait_ends_when_the_app_registers_the_push_fails_or_the_ring_time_runs_out() {
        let t0 = Instant::now();
        let mut waits = PushWaits::default();
        let call = CallRef(1);
        let label = BranchLabel::direct("1001");
        waits.wait_for(
            t0,
            (call, label.clone()),
            &device(),
            t0 + Duration::from_secs(20),
            ("abc@h", "+4791234567"),
        );
        let request = waits.poll_request().expect("a push to send");
        assert_eq!(request.call_id, "abc@h");
        assert_eq!(request.time_to_live, Duration::from_secs(20));
        assert_eq!(waits.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        assert!(waits
            .handle_outcome(request.id, &PushOutcome::Sent)
            .is_empty());
        assert!(waits.woken("1001", "other").is_empty());
        let woken = waits.woken("1001", "tok-1");
        assert_eq!(woken.len(), 1);
        assert_eq!(
            woken[0].ring_time_left(t0 + Duration::from_secs(3)),
            Duration::from_secs(17),
            "the wait counts against the ring time"
        );
        assert_eq!(waits.poll_timeout(), None);

        waits.wait_for(
            t0,
            (call, label.clone()),
            &device(),
            t0 + Duration::from_secs(20),
            ("abc@h", "+4791234567"),
        );
        let second = waits.poll_request().expect("push");
        assert_eq!(
            waits
                .handle_outcome(second.id, &PushOutcome::InvalidToken)
                .len(),
            1
        );
        waits.wait_for(
            t0,
            (call, label.clone()),
            &device(),
            t0 + Duration::from_secs(20),
            ("abc@h", "+4791234567"),
        );
        assert!(waits
            .handle_timeout(t0 + Duration::from_secs(19))
            .is_empty());
        assert_eq!(waits.handle_timeout(t0 + Duration::from_secs(20)).len(), 1);
        let stats = waits.stats();
        assert_eq!(
            (
                stats.requested,
                stats.sent,
                stats.failed,
                stats.invalid_tokens
            ),
            (3, 1, 1, 1)
        );
        assert_eq!((stats.delivered_after_push, stats.unanswered), (1, 1));
    }

    #[test]
    fn a_cancelled_branch_stops_waiting() {
        let t0 = Instant::now();
        let mut waits = PushWaits::default();
        let label = BranchLabel::direct("1001");
        waits.wait_for(
            t0,
            (CallRef(1), label.clone()),
            &device(),
            t0 + Duration::from_secs(20),
            ("a", "b"),
        );
        assert!(waits.is_waiting(CallRef(1), &label));
        waits.cancel(CallRef(1), &label);
        assert!(!waits.is_waiting(CallRef(1), &label));
        assert!(waits.woken("1001", "tok-1").is_empty());
    }
}
