//! Hunt groups in simulated time: every strategy, cellular legs, confirmation, busy policies, hang-ups, and an
//! operation-sequence property test for the invariants call control relies on.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use switchboard_routing::hunt::{
    BusyPolicy, CellularConfig, FailReason, GroupState, HuntAction, HuntCall, HuntGroup,
    HuntOutcome, Leg, Member, MemberPresence, Strategy as HuntStrategy,
};
use switchboard_routing::numbers::Target;
use switchboard_routing::RoutingError;

use FailReason::{Busy, Declined, NoAnswer, Rejected, Unreachable};
use HuntStrategy::{LongestIdle, RingAll, RoundRobin, Sequential};

const APP: Leg = Leg::App;
const CELL: Leg = Leg::Cellular;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A ring as most tests expect it: cellular legs confirm, nobody is busy.
fn ring(member: &str, leg: Leg) -> HuntAction {
    ring_with(member, leg, leg == CELL, false)
}

fn ring_with(member: &str, leg: Leg, confirm: bool, call_waiting: bool) -> HuntAction {
    let (member, w) = (member.into(), call_waiting);
    HuntAction::Ring {
        member,
        leg,
        confirm,
        call_waiting: w,
    }
}

fn cancel(member: &str, leg: Leg) -> HuntAction {
    let member = member.into();
    HuntAction::Cancel { member, leg }
}

fn connect(member: &str, leg: Leg) -> HuntAction {
    let member = member.into();
    HuntAction::Connect { member, leg }
}

fn exhausted(no_answer: Option<Target>) -> HuntAction {
    HuntAction::Exhausted { no_answer }
}

fn group(strategy: HuntStrategy, ids: &[&str]) -> HuntGroup {
    HuntGroup::new(7, strategy, ids.iter().map(|id| Member::new(*id)).collect())
}

/// A start instant far enough from the clock's origin that tests can look back in time without underflow.
fn base() -> Instant {
    Instant::now() + secs(10_000)
}

fn available(_: &str) -> MemberPresence {
    MemberPresence::default()
}

fn presence_with(change: impl FnOnce(&mut MemberPresence)) -> MemberPresence {
    let mut p = MemberPresence::default();
    change(&mut p);
    p
}

fn busy() -> MemberPresence {
    presence_with(|p| p.busy = true)
}

fn logged_out() -> MemberPresence {
    presence_with(|p| p.logged_in = false)
}

fn unregistered() -> MemberPresence {
    presence_with(|p| p.registered = false)
}

/// Everyone available except `member`, who is `p`.
fn except(member: &'static str, p: MemberPresence) -> impl Fn(&str) -> MemberPresence {
    move |m| {
        if m == member {
            p
        } else {
            MemberPresence::default()
        }
    }
}

/// One hunt driven in simulated time. Times are whole seconds since the start; each input returns the
/// actions it produced.
struct Sim {
    call: HuntCall,
    t0: Instant,
}

impl Sim {
    fn start(group: &HuntGroup, state: &mut GroupState) -> (Sim, Vec<HuntAction>) {
        Self::start_with(group, state, available)
    }

    fn start_with(
        group: &HuntGroup,
        state: &mut GroupState,
        presence: impl FnMut(&str) -> MemberPresence,
    ) -> (Sim, Vec<HuntAction>) {
        let t0 = base();
        let call = HuntCall::start(group, state, t0, presence).expect("valid group");
        let mut sim = Sim { call, t0 };
        let first = sim.drain();
        (sim, first)
    }

    fn drain(&mut self) -> Vec<HuntAction> {
        std::iter::from_fn(|| self.call.poll_action()).collect()
    }

    fn at(&self, s: u64) -> Instant {
        self.t0 + secs(s)
    }

    /// Fires every timer due up to `s`; returns what happened, with times.
    fn run_until(&mut self, s: u64) -> Vec<(u64, HuntAction)> {
        let until = self.at(s);
        let mut log = Vec::new();
        while let Some(t) = self.call.poll_timeout().filter(|&t| t <= until) {
            self.call.handle_timeout(t);
            let when = (t - self.t0).as_secs();
            log.extend(self.drain().into_iter().map(|a| (when, a)));
        }
        log
    }

    fn next_timeout(&self) -> Option<u64> {
        self.call.poll_timeout().map(|t| (t - self.t0).as_secs())
    }

    fn answered(&mut self, s: u64, member: &str, leg: Leg) -> Vec<HuntAction> {
        self.call.handle_answered(member, leg, self.at(s));
        self.drain()
    }

    fn failed(&mut self, s: u64, member: &str, leg: Leg, reason: FailReason) -> Vec<HuntAction> {
        self.call.handle_failed(member, leg, reason, self.at(s));
        self.drain()
    }

    fn confirming(&mut self, s: u64, member: &str) -> Vec<HuntAction> {
        self.call.handle_confirming(member, self.at(s));
        self.drain()
    }

    fn presence(&mut self, s: u64, member: &str, p: MemberPresence) -> Vec<HuntAction> {
        self.call.handle_presence(member, p, self.at(s));
        self.drain()
    }

    fn timeout(&mut self, s: u64) -> Vec<HuntAction> {
        self.call.handle_timeout(self.at(s));
        self.drain()
    }
}

/// The members rung in a log, in order.
fn rung(log: &[(u64, HuntAction)]) -> Vec<(u64, &str)> {
    log.iter()
        .filter_map(|(t, a)| match a {
            HuntAction::Ring { member, .. } => Some((*t, member.as_str())),
            _ => None,
        })
        .collect()
}

#[test]
fn ring_all_rings_everyone_and_the_first_answer_wins() {
    let mut g = group(RingAll, &["ada", "bo", "cy"]);
    g.members[1].cellular = Some(CellularConfig::after(secs(5)));
    let (mut sim, first) = Sim::start(&g, &mut GroupState::default());
    assert_eq!(first, [ring("ada", APP), ring("bo", APP), ring("cy", APP)]);
    assert_eq!(sim.next_timeout(), Some(5), "bo's cellular leg is due");

    let won = [connect("cy", APP), cancel("ada", APP), cancel("bo", APP)];
    assert_eq!(sim.answered(2, "cy", APP), won);
    assert_eq!(sim.call.poll_timeout(), None);
    assert_eq!(sim.run_until(100), [], "bo's cellular leg never starts");
    let outcome = HuntOutcome::Connected {
        member: "cy".into(),
        leg: APP,
    };
    assert_eq!(sim.call.outcome(), Some(&outcome));

    // An answer that crossed our cancel is released; a repeated answer from the winner, or a 487 for a
    // cancelled leg, changes nothing.
    assert_eq!(sim.answered(3, "ada", APP), [cancel("ada", APP)]);
    assert_eq!(sim.answered(3, "cy", APP), []);
    assert_eq!(sim.failed(3, "bo", APP, NoAnswer), []);
}

#[test]
fn ring_all_ends_at_the_group_timeout_and_retries_members_who_did_not_refuse() {
    let mut g = group(RingAll, &["ada", "bo", "cy"]);
    g.timeout = secs(30);
    g.no_answer = Some(Target::Message("closed".into()));
    let (mut sim, _) = Sim::start(&g, &mut GroupState::default());

    assert_eq!(
        sim.failed(4, "ada", APP, Rejected),
        [],
        "a refusal is final for this call"
    );
    assert_eq!(
        sim.failed(4, "bo", APP, NoAnswer),
        [ring("bo", APP)],
        "no answer rings again"
    );
    let end = exhausted(Some(Target::Message("closed".into())));
    let expected = [(30, cancel("bo", APP)), (30, cancel("cy", APP)), (30, end)];
    assert_eq!(sim.run_until(60), expected);
    assert_eq!(sim.call.outcome(), Some(&HuntOutcome::Exhausted));
}

#[test]
fn ring_all_gives_up_early_when_nobody_is_left() {
    let (mut sim, _) = Sim::start(&group(RingAll, &["ada", "bo"]), &mut GroupState::default());
    assert_eq!(sim.failed(1, "ada", APP, Busy), []);
    assert_eq!(sim.failed(1, "bo", APP, Unreachable), [exhausted(None)]);
}

#[test]
fn sequential_rings_in_order_for_each_members_time_until_the_group_timeout() {
    let mut g = group(Sequential, &["ada", "bo", "cy"]);
    g.members[0].ring_time = Some(secs(10));
    g.members[2].ring_time = Some(secs(5));
    g.ring_time = secs(15);
    g.timeout = secs(60);
    g.no_answer = Some(Target::Queue(9));
    let (mut sim, first) = Sim::start(&g, &mut GroupState::default());
    assert_eq!(first, [ring("ada", APP)]);
    #[rustfmt::skip]
    let expected = [
        (10, cancel("ada", APP)), (10, ring("bo", APP)),
        (25, cancel("bo", APP)), (25, ring("cy", APP)),
        (30, cancel("cy", APP)), (30, ring("ada", APP)), // second round
        (40, cancel("ada", APP)), (40, ring("bo", APP)),
        (55, cancel("bo", APP)), (55, ring("cy", APP)),
        (60, cancel("cy", APP)), (60, exhausted(Some(Target::Queue(9)))), // cut short by the group timeout
    ];
    assert_eq!(sim.run_until(120), expected);
    assert_eq!(sim.call.poll_timeout(), None);
}

#[test]
fn sequential_moves_on_at_once_when_a_member_fails_and_connects_a_later_answer() {
    let (mut sim, _) = Sim::start(
        &group(Sequential, &["ada", "bo", "cy"]),
        &mut GroupState::default(),
    );
    assert_eq!(sim.failed(3, "ada", APP, Busy), [ring("bo", APP)]);
    assert_eq!(
        sim.next_timeout(),
        Some(18),
        "bo's turn is a full ring time"
    );
    assert_eq!(sim.answered(7, "bo", APP), [connect("bo", APP)]);
    assert!(sim.call.is_finished());
}

#[test]
fn a_lone_member_is_cancelled_before_being_rung_again() {
    let mut g = group(Sequential, &["ada"]);
    g.ring_time = secs(20);
    let (mut sim, _) = Sim::start(&g, &mut GroupState::default());
    #[rustfmt::skip]
    let expected = [
        (20, cancel("ada", APP)), (20, ring("ada", APP)),
        (40, cancel("ada", APP)), (40, ring("ada", APP)),
        (60, cancel("ada", APP)), (60, exhausted(None)),
    ];
    assert_eq!(sim.run_until(60), expected);
}

#[test]
fn round_robin_starts_one_member_further_on_each_call() {
    let g = group(RoundRobin, &["ada", "bo", "cy", "di"]);
    let mut state = GroupState::default();
    let firsts: Vec<_> = (0..6).map(|_| Sim::start(&g, &mut state).1).collect();
    let expected: Vec<_> = ["ada", "bo", "cy", "di", "ada", "bo"]
        .map(|m| vec![ring(m, APP)])
        .into();
    assert_eq!(firsts, expected);
    assert_eq!(state.last_rung.as_deref(), Some("bo"));

    // Within a call the order goes round from the first member.
    let (mut sim, first) = Sim::start(&g, &mut state);
    assert_eq!(first, [ring("cy", APP)]);
    assert_eq!(
        rung(&sim.run_until(59)),
        [(15, "di"), (30, "ada"), (45, "bo")]
    );
}

#[test]
fn round_robin_remembers_whom_it_rang_not_whom_it_skipped() {
    let g = group(RoundRobin, &["ada", "bo", "cy", "di"]);
    let mut state = GroupState::default();
    assert_eq!(Sim::start(&g, &mut state).1, [ring("ada", APP)]);
    // bo is on another call: skipped, and the memory moves to cy, whom the call rang.
    let bo_busy = except("bo", busy());
    assert_eq!(
        Sim::start_with(&g, &mut state, bo_busy).1,
        [ring("cy", APP)]
    );
    assert_eq!(state.last_rung.as_deref(), Some("cy"));
    assert_eq!(Sim::start(&g, &mut state).1, [ring("di", APP)]);

    // A member who left the group no longer anchors the rotation.
    state.last_rung = Some("gone".into());
    assert_eq!(Sim::start(&g, &mut state).1, [ring("ada", APP)]);
    // Nobody rung, nothing remembered.
    assert_eq!(
        Sim::start_with(&g, &mut state, |_| logged_out()).1,
        [exhausted(None)]
    );
    assert_eq!(state.last_rung.as_deref(), Some("ada"));
}

#[test]
fn longest_idle_rings_the_longest_idle_first() {
    let g = group(LongestIdle, &["ada", "bo", "cy", "di", "ed"]);
    let now = base();
    let mut state = GroupState::default();
    state.record_call_end("ada", now - secs(10));
    state.record_call_end("bo", now - secs(100));
    state.record_call_end("di", now - secs(50));
    // cy and ed have no call on record: they come first, in configured order.
    let (mut sim, first) = Sim::start(&g, &mut state);
    assert_eq!(first, [ring("cy", APP)]);
    assert_eq!(
        rung(&sim.run_until(60)),
        [(15, "ed"), (30, "bo"), (45, "di")]
    );
    assert_eq!(state.last_rung, None, "longest idle keeps no rotation");
}

#[test]
fn cellular_leg_starts_after_its_delay_and_ends_with_the_turn() {
    let mut g = group(Sequential, &["ada", "bo"]);
    g.members[0].cellular = Some(CellularConfig::after(secs(5)));
    let (mut sim, first) = Sim::start(&g, &mut GroupState::default());
    assert_eq!(first, [ring("ada", APP)]);
    assert_eq!(sim.next_timeout(), Some(5));
    #[rustfmt::skip]
    let expected = [
        (5, ring("ada", CELL)),
        (15, cancel("ada", APP)), (15, cancel("ada", CELL)), (15, ring("bo", APP)),
    ];
    assert_eq!(sim.run_until(15), expected);
}

#[test]
fn cellular_leg_starts_at_once_without_an_app_or_after_the_app_leg_ends() {
    let mut g = group(RingAll, &["ada", "bo"]);
    for m in &mut g.members {
        m.cellular = Some(CellularConfig {
            delay: secs(8),
            confirm: false,
        });
    }
    let ada_unregistered = except("ada", unregistered());
    let (mut sim, first) = Sim::start_with(&g, &mut GroupState::default(), ada_unregistered);
    assert_eq!(
        first,
        [ring_with("ada", CELL, false, false), ring("bo", APP)]
    );
    assert_eq!(
        sim.failed(2, "bo", APP, Unreachable),
        [ring_with("bo", CELL, false, false)]
    );
    assert_eq!(sim.next_timeout(), Some(60));
}

#[test]
fn member_without_cellular_number_gets_no_cellular_leg() {
    let mut g = group(RingAll, &["ada"]);
    g.members[0].cellular = Some(CellularConfig::default());
    let no_cellular = |_: &str| presence_with(|p| p.cellular = false);
    assert_eq!(
        Sim::start_with(&g, &mut GroupState::default(), no_cellular).1,
        [ring("ada", APP)]
    );
}

#[test]
fn a_declined_confirmation_moves_on_and_a_confirmed_one_connects() {
    let mut g = group(Sequential, &["ada", "bo"]);
    g.members[0].cellular = Some(CellularConfig::default());
    g.members[1].cellular = Some(CellularConfig::default());
    let (mut sim, first) = Sim::start_with(&g, &mut GroupState::default(), |_| unregistered());
    assert_eq!(first, [ring("ada", CELL)]);

    // Picked up at 12 s; the prompt plays past ada's 15 s turn without cutting her off, even if call
    // control wakes the hunt for nothing.
    assert_eq!(sim.confirming(12, "ada"), []);
    assert_eq!(sim.next_timeout(), Some(60), "only the group timeout runs");
    assert_eq!(sim.run_until(20), []);
    assert_eq!(sim.timeout(16), []);
    assert_eq!(sim.failed(20, "ada", CELL, Declined), [ring("bo", CELL)]);
    assert_eq!(sim.confirming(24, "bo"), []);
    assert_eq!(sim.answered(27, "bo", CELL), [connect("bo", CELL)]);

    // The voicemail that declined is not rung again in this call: later rounds skip ada.
    let (mut sim, _) = Sim::start_with(&g, &mut GroupState::default(), |_| unregistered());
    assert_eq!(sim.failed(1, "ada", CELL, Declined), [ring("bo", CELL)]);
    #[rustfmt::skip]
    let expected = [
        (16, cancel("bo", CELL)), (16, ring("bo", CELL)),
        (31, cancel("bo", CELL)), (31, ring("bo", CELL)),
    ];
    assert_eq!(sim.run_until(40), expected);
}

#[test]
fn busy_members_are_skipped_rung_or_rung_with_call_waiting_per_policy() {
    for (policy, expected) in [
        (BusyPolicy::Skip, ring("bo", APP)),
        (BusyPolicy::RingAnyway, ring("ada", APP)),
        (BusyPolicy::CallWaiting, ring_with("ada", APP, false, true)),
    ] {
        let mut g = group(Sequential, &["ada", "bo"]);
        g.busy = policy;
        let ada_busy = except("ada", busy());
        let (_, first) = Sim::start_with(&g, &mut GroupState::default(), ada_busy);
        assert_eq!(first, [expected], "{policy:?}");
    }
}

#[test]
fn presence_changes_during_a_hunt() {
    let g = group(RingAll, &["ada", "bo"]);
    let ada_busy = except("ada", busy());
    let (mut sim, first) = Sim::start_with(&g, &mut GroupState::default(), ada_busy);
    assert_eq!(first, [ring("bo", APP)]);
    let free = MemberPresence::default();
    assert_eq!(
        sim.presence(5, "ada", free),
        [ring("ada", APP)],
        "free again: joins the ring-all"
    );
    assert_eq!(
        sim.presence(6, "bo", busy()),
        [cancel("bo", APP)],
        "took another call"
    );
    assert_eq!(
        sim.presence(7, "ada", logged_out()),
        [cancel("ada", APP), exhausted(None)]
    );

    // Sequential: the member whose turn it is logs out, the next one is rung.
    let (mut sim, _) = Sim::start(
        &group(Sequential, &["ada", "bo"]),
        &mut GroupState::default(),
    );
    assert_eq!(
        sim.presence(1, "ada", logged_out()),
        [cancel("ada", APP), ring("bo", APP)]
    );
}

#[test]
fn caller_hang_up_cancels_every_leg() {
    let mut g = group(RingAll, &["ada", "bo", "cy"]);
    g.members[0].cellular = Some(CellularConfig::default());
    g.members[1].cellular = Some(CellularConfig::after(secs(10)));
    g.no_answer = Some(Target::Queue(1));
    let (mut sim, first) = Sim::start(&g, &mut GroupState::default());
    let rang = [
        ring("ada", APP),
        ring("ada", CELL),
        ring("bo", APP),
        ring("cy", APP),
    ];
    assert_eq!(first, rang);
    assert_eq!(sim.confirming(3, "ada"), []);
    sim.call.handle_caller_hung_up(sim.at(3));
    let all = [
        cancel("ada", APP),
        cancel("ada", CELL),
        cancel("bo", APP),
        cancel("cy", APP),
    ];
    assert_eq!(
        sim.drain(),
        all,
        "no Exhausted: there is no caller to send anywhere"
    );
    assert_eq!(sim.call.outcome(), Some(&HuntOutcome::CallerHungUp));
    assert_eq!(sim.call.poll_timeout(), None);
    assert_eq!(sim.run_until(100), [], "bo's cellular leg never starts");
    assert_eq!(sim.failed(4, "bo", APP, NoAnswer), []);
    assert_eq!(sim.presence(4, "cy", MemberPresence::default()), []);
}

#[test]
fn nobody_available_exhausts_at_once() {
    for strategy in [RingAll, Sequential, RoundRobin, LongestIdle] {
        let mut g = group(strategy, &["ada", "bo"]);
        g.no_answer = Some(Target::User("sentralbord".into()));
        let nobody = |m: &str| {
            if m == "ada" {
                logged_out()
            } else {
                unregistered()
            }
        };
        let (sim, first) = Sim::start_with(&g, &mut GroupState::default(), nobody);
        let end = exhausted(Some(Target::User("sentralbord".into())));
        assert_eq!(first, [end], "{strategy:?}");
        assert_eq!(sim.call.poll_timeout(), None);
        let (_, first) = Sim::start(&group(strategy, &[]), &mut GroupState::default());
        assert_eq!(first, [exhausted(None)], "{strategy:?} with no members");
    }
}

#[test]
fn invalid_groups_are_refused() {
    let start =
        |g: &HuntGroup| HuntCall::start(g, &mut GroupState::default(), base(), available).err();
    let dup = group(Sequential, &["ada", "bo", "ada"]);
    let err = RoutingError::DuplicateMember {
        group: 7,
        member: "ada".into(),
    };
    assert_eq!(start(&dup), Some(err));
    let mut zero_ring = group(Sequential, &["ada"]);
    zero_ring.ring_time = Duration::ZERO;
    let mut zero_member = group(Sequential, &["ada"]);
    zero_member.members[0].ring_time = Some(Duration::ZERO);
    let mut zero_timeout = group(RingAll, &["ada"]);
    zero_timeout.timeout = Duration::ZERO;
    for g in [zero_ring, zero_member, zero_timeout, group(RingAll, &[""])] {
        assert!(
            matches!(start(&g), Some(RoutingError::InvalidHuntGroup { .. })),
            "{g:?}"
        );
    }
}

#[test]
fn a_whole_hunt_runs_in_microseconds_of_real_time() {
    let members = (0..20)
        .map(|i| Member::new(format!("m{i}")).with_cellular(CellularConfig::after(secs(3))))
        .collect();
    let mut g = HuntGroup::new(1, Sequential, members);
    g.ring_time = secs(5);
    g.timeout = secs(600);
    let wall = Instant::now();
    let (mut sim, first) = Sim::start(&g, &mut GroupState::default());
    let log = sim.run_until(3600);
    let elapsed = wall.elapsed();
    assert_eq!(first, [ring("m0", APP)]);
    assert_eq!(log.last(), Some(&(600, exhausted(None))));
    // Ten simulated minutes: 120 turns of two legs, the first app leg rung at start.
    assert_eq!(rung(&log).len(), 239);
    assert!(elapsed < Duration::from_millis(50), "took {elapsed:?}");
}

// --- Operation sequences -------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Answer(usize, Leg),
    Confirming(usize),
    Fail(usize, Leg, FailReason),
    Presence(usize, MemberPresence),
    HangUp,
}

fn arb_leg() -> impl Strategy<Value = Leg> {
    prop_oneof![Just(Leg::App), Just(Leg::Cellular)]
}

fn arb_presence() -> impl Strategy<Value = MemberPresence> {
    (any::<[bool; 4]>(), 0..4u8).prop_map(|(b, bias)| {
        // Mostly available, so hunts get somewhere.
        let available = bias > 0;
        MemberPresence {
            logged_in: available || b[0],
            registered: available || b[1],
            busy: !available && b[2],
            cellular: b[3],
        }
    })
}

fn arb_reason() -> impl Strategy<Value = FailReason> {
    proptest::sample::select(vec![Busy, Rejected, Unreachable, NoAnswer, Declined])
}

fn arb_op(members: usize) -> impl Strategy<Value = Op> {
    let m = members.max(1);
    prop_oneof![
        6 => (0..30_000u64).prop_map(Op::Advance),
        2 => (0..m, arb_leg()).prop_map(|(i, l)| Op::Answer(i, l)),
        2 => (0..m).prop_map(Op::Confirming),
        5 => (0..m, arb_leg(), arb_reason()).prop_map(|(i, l, r)| Op::Fail(i, l, r)),
        2 => (0..m, arb_presence()).prop_map(|(i, p)| Op::Presence(i, p)),
        1 => Just(Op::HangUp),
    ]
}

fn arb_group() -> impl Strategy<Value = HuntGroup> {
    let member = (
        proptest::option::of(1..20u64),
        proptest::option::of((0..10u64, any::<bool>())),
    );
    (
        proptest::sample::select(vec![RingAll, Sequential, RoundRobin, LongestIdle]),
        proptest::sample::select(vec![
            BusyPolicy::Skip,
            BusyPolicy::RingAnyway,
            BusyPolicy::CallWaiting,
        ]),
        proptest::collection::vec(member, 0..5),
        1..20u64,
        1..90u64,
        any::<bool>(),
    )
        .prop_map(|(strategy, busy, members, ring, timeout, target)| {
            let members = members
                .into_iter()
                .enumerate()
                .map(|(i, (ring_time, cellular))| {
                    let cellular = cellular.map(|(d, confirm)| CellularConfig {
                        delay: secs(d),
                        confirm,
                    });
                    let ring_time = ring_time.map(secs);
                    Member {
                        id: format!("m{i}"),
                        ring_time,
                        cellular,
                    }
                })
                .collect();
            let mut g = HuntGroup::new(1, strategy, members);
            (g.busy, g.ring_time, g.timeout) = (busy, secs(ring), secs(timeout));
            g.no_answer = target.then_some(Target::Queue(2));
            g
        })
}

fn arb_case() -> impl Strategy<Value = (HuntGroup, Vec<MemberPresence>, Option<usize>, Vec<Op>)> {
    arb_group().prop_flat_map(|g| {
        let n = g.members.len();
        (
            Just(g),
            proptest::collection::vec(arb_presence(), n),
            proptest::option::of(0..n.max(1)),
            proptest::collection::vec(arb_op(n), 0..40),
        )
    })
}

/// What call control sees: legs it has out there, and how the hunt ended.
#[derive(Default)]
struct Model {
    live: BTreeSet<(String, Leg)>,
    connected: Option<(String, Leg)>,
    exhausted: bool,
}

impl Model {
    fn apply(&mut self, actions: Vec<HuntAction>) -> Result<(), TestCaseError> {
        for action in actions {
            let ended = self.connected.is_some() || self.exhausted;
            match action {
                HuntAction::Ring { member, leg, .. } => {
                    prop_assert!(!ended, "ring after the end");
                    prop_assert!(self.live.insert((member, leg)), "rung twice at once");
                }
                HuntAction::Cancel { member, leg } => {
                    prop_assert!(self.live.remove(&(member, leg)), "cancel of a leg not out");
                }
                HuntAction::Connect { member, leg } => {
                    prop_assert!(!ended, "second end");
                    prop_assert!(
                        self.live.remove(&(member.clone(), leg)),
                        "connect of a leg not out"
                    );
                    self.connected = Some((member, leg));
                }
                HuntAction::Exhausted { .. } => {
                    prop_assert!(!ended, "second end");
                    self.exhausted = true;
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn hunts_keep_their_promises_to_call_control((g, presence, last, ops) in arb_case()) {
        let t0 = base();
        let deadline = t0 + g.timeout;
        let mut state = GroupState {
            last_rung: last.map(|i| format!("m{i}")),
            ..GroupState::default()
        };
        for (i, _) in g.members.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            state.record_call_end(&format!("m{i}"), t0 - secs(i as u64));
        }
        let mut call = HuntCall::start(&g, &mut state, t0, |id| {
            let i: usize = id[1..].parse().expect("generated id");
            presence[i]
        }).expect("generated groups are valid");
        let drain = |call: &mut HuntCall| std::iter::from_fn(|| call.poll_action()).collect::<Vec<_>>();
        let mut model = Model::default();
        model.apply(drain(&mut call))?;
        let mut now = t0;
        let mut hung_up = false;
        let id = |i: usize| format!("m{i}");

        for op in ops {
            match op {
                Op::Advance(ms) => {
                    let until = now + Duration::from_millis(ms);
                    while let Some(t) = call.poll_timeout().filter(|&t| t <= until) {
                        prop_assert!(t >= now, "timeout in the past");
                        now = t;
                        call.handle_timeout(now);
                        model.apply(drain(&mut call))?;
                        prop_assert!(call.poll_timeout().is_none_or(|t| t > now), "timer would spin");
                    }
                    now = until;
                }
                Op::Answer(i, leg) => {
                    let key = (id(i), leg);
                    if model.connected.as_ref() == Some(&key) {
                        continue;
                    }
                    // A stale answer creates a dialog that the hunt must release.
                    model.live.insert(key.clone());
                    call.handle_answered(&key.0, leg, now);
                    model.apply(drain(&mut call))?;
                    prop_assert!(!model.live.contains(&key), "answered leg left dangling");
                }
                Op::Confirming(i) => {
                    call.handle_confirming(&id(i), now);
                    prop_assert_eq!(drain(&mut call), vec![]);
                }
                Op::Fail(i, leg, reason) => {
                    let key = (id(i), leg);
                    let was_live = model.live.remove(&key);
                    call.handle_failed(&key.0, leg, reason, now);
                    let actions = drain(&mut call);
                    if !was_live {
                        prop_assert_eq!(actions, vec![], "a stale failure changed something");
                    } else {
                        model.apply(actions)?;
                    }
                }
                Op::Presence(i, p) => {
                    call.handle_presence(&id(i), p, now);
                    model.apply(drain(&mut call))?;
                }
                Op::HangUp => {
                    let was_finished = call.is_finished();
                    call.handle_caller_hung_up(now);
                    model.apply(drain(&mut call))?;
                    hung_up |= !was_finished;
                    prop_assert!(call.is_finished());
                }
            }
            prop_assert!(call.poll_timeout().is_none_or(|t| t <= deadline), "timer past the group timeout");
            if call.is_finished() {
                prop_assert!(model.live.is_empty(), "legs left ringing after the end: {:?}", model.live);
                prop_assert_eq!(call.poll_timeout(), None);
            }
        }

        // Nothing more from outside: the hunt must end by the group timeout, leaving no leg behind.
        while let Some(t) = call.poll_timeout() {
            prop_assert!(t <= deadline);
            now = now.max(t);
            call.handle_timeout(now);
            model.apply(drain(&mut call))?;
        }
        prop_assert!(call.is_finished());
        prop_assert!(model.live.is_empty(), "legs left: {:?}", model.live);
        let ends = [model.connected.is_some(), model.exhausted, hung_up];
        prop_assert_eq!(ends.iter().filter(|&&e| e).count(), 1, "exactly one ending: {:?}", ends);
        let expected = match (&model.connected, model.exhausted) {
            (Some((member, leg)), _) => HuntOutcome::Connected { member: member.clone(), leg: *leg },
            (None, true) => HuntOutcome::Exhausted,
            (None, false) => HuntOutcome::CallerHungUp,
        };
        prop_assert_eq!(call.outcome(), Some(&expected));
    }
}
