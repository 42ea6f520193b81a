//! Toll-fraud limits in simulated time: a staff member (allowed to call abroad) who goes past the
//! concurrent-call limit or the minutes-per-hour limit is blocked from calls abroad and to premium
//! numbers, receptionists are told, national and emergency calls still go out, and the block lasts
//! until an admin lifts it. A citizen handed abroad by a blind transfer counts against the
//! transferor.

mod sim;

use std::time::Duration;

use call_control::{Notice, TollLimits};
use sim::*;
use sip_core::b2bua::{CallCommand, CallRef, Caller};

const ABROAD: &str = "004646000000";

fn staff_may_call_abroad(limits: TollLimits) -> Sim {
    let (u, mut settings) = user("1001");
    settings.allow_international = true;
    let mut cfg = config(
        vec![(u, settings)],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![trunk("primary", 1, 5091)],
    );
    cfg.toll_limits = limits;
    Sim::new(cfg)
}

fn refused(out: &[call_control::Output], call: u64) -> bool {
    sip(out).contains(&CallCommand::Reject {
        call: CallRef(call),
        status: 403,
    })
}

#[test]
fn a_third_call_abroad_at_once_blocks_the_user_until_an_admin_lifts_it() {
    let mut s = staff_may_call_abroad(TollLimits {
        max_concurrent: 2,
        max_minutes_per_hour: 600,
    });
    let me = || Caller::User("1001".into());
    assert_eq!(
        rung_targets(&s.incoming(1, me(), "1001", ABROAD)),
        vec!["primary"]
    );
    assert_eq!(
        rung_targets(&s.incoming(2, me(), "1001", ABROAD)),
        vec!["primary"]
    );
    let out = s.incoming(3, me(), "1001", ABROAD);
    assert!(refused(&out, 3), "{out:?}");
    assert_eq!(
        notices(&out),
        vec![Notice::TollBlocked {
            user: "1001".into(),
            reason: "concurrent_calls"
        }]
    );
    // The calls in progress go on; one ends, and the next call abroad is still refused.
    s.ended(1, None);
    let out = s.incoming(4, me(), "1001", ABROAD);
    assert!(refused(&out, 4));
    assert!(notices(&out).is_empty(), "told once");
    // National and emergency calls are not toll calls.
    assert_eq!(
        rung_targets(&s.incoming(5, me(), "1001", "22222222")),
        vec!["primary"]
    );
    assert_eq!(
        rung_targets(&s.incoming(6, me(), "1001", "112")),
        vec!["primary"]
    );
    let blocks = s.cc.toll_blocks();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].user, "1001");
    assert!(s.cc.lift_toll_block("1001"));
    assert_eq!(
        rung_targets(&s.incoming(7, me(), "1001", ABROAD)),
        vec!["primary"]
    );
    assert_eq!(s.cc.toll_stats().blocks, 1);
    assert_eq!(s.cc.toll_stats().refused, 2);
}

#[test]
fn a_long_call_abroad_blocks_the_next_once_the_hour_s_minutes_are_used() {
    let mut s = staff_may_call_abroad(TollLimits {
        max_concurrent: 5,
        max_minutes_per_hour: 10,
    });
    let me = || Caller::User("1001".into());
    s.incoming(1, me(), "1001", ABROAD);
    s.answered(1, "primary");
    // The periodic check sees the running call pass 10 minutes: blocked, the call goes on.
    let out = s.advance(Duration::from_secs(11 * 60));
    assert_eq!(
        notices(&out),
        vec![Notice::TollBlocked {
            user: "1001".into(),
            reason: "minutes_per_hour"
        }]
    );
    assert!(!sip(&out)
        .iter()
        .any(|c| matches!(c, CallCommand::HangUp { .. })));
    s.ended(1, Some("primary"));
    assert!(refused(&s.incoming(2, me(), "1001", "0082012345678"), 2));
}
