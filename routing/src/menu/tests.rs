use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::numbers::Target;
use crate::RoutingError;

fn play(prompt: &str) -> MenuAction {
    MenuAction::Play {
        prompt: prompt.into(),
        interruptible: true,
    }
}

fn goodbye() -> MenuAction {
    MenuAction::Play {
        prompt: "goodbye".into(),
        interruptible: false,
    }
}

/// The demo main menu: 1 helse (queue 10), 2 skole (hunt group 3), 3 teknisk (menu 2), 0 sentralbordet,
/// 9 extension, * repeat.
fn demo() -> MenuConfig {
    MenuConfig::new(1, "Hovedmeny", "main_menu")
        .with_option('1', Target::Queue(10))
        .with_option('2', Target::HuntGroup(3))
        .with_option('3', Target::Menu(2))
        .with_option('0', Target::User("resepsjon".into()))
        .with_option('9', MenuChoice::DialExtension)
        .with_option('*', MenuChoice::Repeat)
}

fn drain(s: &mut MenuSession) -> Vec<MenuAction> {
    std::iter::from_fn(|| s.poll_action()).collect()
}

#[test]
fn key_routes_to_its_target() {
    let t0 = Instant::now();
    for (key, target) in [
        ('1', Target::Queue(10)),
        ('2', Target::HuntGroup(3)),
        ('0', Target::User("resepsjon".into())),
    ] {
        let mut s = MenuSession::new(demo(), t0);
        assert_eq!(drain(&mut s), [play("main_menu")]);
        s.handle_playback_done(t0 + Duration::from_secs(4));
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(9)));
        s.handle_digit(t0 + Duration::from_secs(5), key);
        assert_eq!(drain(&mut s), [MenuAction::Route(target)]);
        assert!(s.is_finished());
        assert_eq!(s.poll_timeout(), None);
    }
}

#[test]
fn key_during_prompt_interrupts_it() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo().with_greeting("welcome"), t0);
    assert_eq!(drain(&mut s), [play("welcome")]);
    // An impatient caller keys during the greeting: the greeting stops and the key counts.
    s.handle_digit(t0 + Duration::from_millis(500), '1');
    assert_eq!(
        drain(&mut s),
        [
            MenuAction::StopPlayback,
            MenuAction::Route(Target::Queue(10))
        ]
    );
    // A stale "done" for the stopped prompt is ignored.
    s.handle_playback_done(t0 + Duration::from_secs(1));
    assert_eq!(drain(&mut s), []);
}

#[test]
fn greeting_is_played_once_then_the_menu() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo().with_greeting("welcome"), t0);
    assert_eq!(drain(&mut s), [play("welcome")]);
    s.handle_playback_done(t0 + Duration::from_secs(2));
    assert_eq!(drain(&mut s), [play("main_menu")]);
    s.handle_digit(t0 + Duration::from_secs(3), '*');
    assert_eq!(drain(&mut s), [MenuAction::StopPlayback, play("main_menu")]);
}

#[test]
fn timeouts_replay_the_prompt_then_go_to_the_default() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo().with_on_failure(Target::Queue(99)), t0);
    assert_eq!(drain(&mut s), [play("main_menu")]);
    let mut now = t0;
    for round in 0..3 {
        now += Duration::from_secs(4);
        s.handle_playback_done(now);
        let deadline = now + DEFAULT_TIMEOUT;
        assert_eq!(s.poll_timeout(), Some(deadline));
        // An early wake-up does nothing.
        s.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(drain(&mut s), []);
        now = deadline;
        s.handle_timeout(now);
        if round < 2 {
            assert_eq!(drain(&mut s), [play("no_choice")]);
            assert_eq!(s.poll_timeout(), None);
            now += Duration::from_secs(1);
            s.handle_playback_done(now);
            assert_eq!(drain(&mut s), [play("main_menu")]);
        } else {
            assert_eq!(drain(&mut s), [MenuAction::Route(Target::Queue(99))]);
        }
    }
    assert!(s.is_finished());
    assert_eq!(s.failures(), 3);
}

#[test]
fn invalid_key_replays_with_the_invalid_prompt() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo(), t0);
    drain(&mut s);
    s.handle_digit(t0 + Duration::from_secs(1), '7');
    assert_eq!(
        drain(&mut s),
        [MenuAction::StopPlayback, play("invalid_choice")]
    );
    s.handle_playback_done(t0 + Duration::from_secs(2));
    assert_eq!(drain(&mut s), [play("main_menu")]);
    // A key during the invalid-choice notice is a choice too.
    s.handle_digit(t0 + Duration::from_secs(3), 'A');
    assert_eq!(
        drain(&mut s),
        [MenuAction::StopPlayback, play("invalid_choice")]
    );
    s.handle_digit(t0 + Duration::from_secs(4), '2');
    assert_eq!(
        drain(&mut s),
        [
            MenuAction::StopPlayback,
            MenuAction::Route(Target::HuntGroup(3))
        ]
    );
}

#[test]
fn max_attempts_then_goodbye_and_hangup() {
    let t0 = Instant::now();
    let mut config = demo();
    config.max_attempts = 2;
    let mut s = MenuSession::new(config, t0);
    drain(&mut s);
    s.handle_playback_done(t0);
    s.handle_digit(t0, '5');
    assert_eq!(drain(&mut s), [play("invalid_choice")]);
    s.handle_playback_done(t0);
    s.handle_playback_done(t0);
    assert_eq!(drain(&mut s), [play("main_menu")]);
    s.handle_timeout(t0 + DEFAULT_TIMEOUT);
    assert_eq!(drain(&mut s), [goodbye()]);
    // Keys during goodbye are ignored; it is not interruptible.
    s.handle_digit(t0 + DEFAULT_TIMEOUT, '1');
    assert_eq!(drain(&mut s), []);
    s.handle_playback_done(t0 + Duration::from_secs(8));
    assert_eq!(drain(&mut s), [MenuAction::Hangup]);
    assert!(s.is_finished());
    s.handle_digit(t0 + Duration::from_secs(9), '1');
    s.handle_timeout(t0 + Duration::from_secs(60));
    assert_eq!(drain(&mut s), []);
}

#[test]
fn extension_dialling_collects_max_digits() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo(), t0);
    drain(&mut s);
    s.handle_digit(t0, '9');
    assert_eq!(drain(&mut s), [MenuAction::StopPlayback, play("extension")]);
    // The first digit interrupts "Tast internnummeret."
    s.handle_digit(t0 + Duration::from_millis(300), '4');
    assert_eq!(drain(&mut s), [MenuAction::StopPlayback]);
    for (i, d) in ['2', '1'].into_iter().enumerate() {
        let now = t0 + Duration::from_secs(1 + i as u64);
        s.handle_digit(now, d);
        assert_eq!(
            s.poll_timeout(),
            Some(now + DEFAULT_INTER_DIGIT_TIMEOUT),
            "inter-digit timeout restarts with each digit"
        );
    }
    s.handle_digit(t0 + Duration::from_secs(3), '7');
    assert_eq!(drain(&mut s), [MenuAction::DialExtension("4217".into())]);
    assert!(s.is_finished());
}

#[test]
fn extension_inter_digit_timeout_and_hash() {
    let t0 = Instant::now();
    let mut config = demo();
    config.extension.min_digits = 3;
    config.extension.max_digits = 5;

    // '#' ends a 3-digit extension.
    let mut s = MenuSession::new(config.clone(), t0);
    drain(&mut s);
    s.handle_playback_done(t0);
    s.handle_digit(t0, '9');
    s.handle_playback_done(t0 + Duration::from_secs(2));
    assert_eq!(drain(&mut s), [play("extension")]);
    assert_eq!(
        s.poll_timeout(),
        Some(t0 + Duration::from_secs(2) + DEFAULT_TIMEOUT)
    );
    for d in ['1', '2', '3', '#'] {
        s.handle_digit(t0 + Duration::from_secs(3), d);
    }
    assert_eq!(drain(&mut s), [MenuAction::DialExtension("123".into())]);

    // The inter-digit timeout ends a 4-digit one.
    let mut s = MenuSession::new(config.clone(), t0);
    s.handle_digit(t0, '9');
    for d in "5678".chars() {
        s.handle_digit(t0, d);
    }
    drain(&mut s);
    s.handle_timeout(t0 + DEFAULT_INTER_DIGIT_TIMEOUT);
    assert_eq!(drain(&mut s), [MenuAction::DialExtension("5678".into())]);

    // Too few digits, then '#': an invalid try, and the extension prompt again with the digits cleared.
    let mut s = MenuSession::new(config.clone(), t0);
    s.handle_digit(t0, '9');
    s.handle_digit(t0, '1');
    s.handle_digit(t0, '#');
    assert_eq!(
        drain(&mut s),
        [
            play("main_menu"),
            MenuAction::StopPlayback,
            play("extension"),
            MenuAction::StopPlayback,
            play("invalid_choice")
        ]
    );
    s.handle_playback_done(t0);
    assert_eq!(drain(&mut s), [play("extension")]);
    s.handle_playback_done(t0);
    // No digit at all in time: a no-choice try.
    s.handle_timeout(t0 + DEFAULT_TIMEOUT);
    assert_eq!(drain(&mut s), [play("no_choice")]);
    // The third failure ends the menu (goodbye, no on_failure).
    s.handle_digit(t0, '4');
    s.handle_digit(t0, '*');
    assert_eq!(drain(&mut s), [MenuAction::StopPlayback, goodbye()]);
}

#[test]
fn nesting_emits_the_menu_and_depth_is_bounded() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo(), t0);
    s.handle_digit(t0, '3');
    assert_eq!(
        drain(&mut s),
        [
            play("main_menu"),
            MenuAction::StopPlayback,
            MenuAction::Route(Target::Menu(2))
        ]
    );
    // Call control follows with the sub-menu, one level deeper.
    let teknisk = MenuConfig::new(2, "Teknisk", "teknisk_menu")
        .with_option('1', Target::Queue(20))
        .with_option('0', Target::Menu(1));
    let mut sub = MenuSession::nested(teknisk.clone(), t0, s.depth() + 1);
    assert_eq!(sub.depth(), 1);
    assert_eq!(drain(&mut sub), [play("teknisk_menu")]);

    // A caller (or a silent line) bouncing between menus stops at MAX_MENU_DEPTH.
    let mut depth = 0;
    let mut configs = [demo(), teknisk];
    configs[0].on_failure = Some(Target::Menu(2));
    configs[1].on_failure = Some(Target::Menu(1));
    let mut current = 0;
    loop {
        let mut s = MenuSession::nested(configs[current].clone(), t0, depth);
        let mut last = None;
        for _ in 0..20 {
            for a in drain(&mut s) {
                last = Some(a);
            }
            if s.is_finished() {
                break;
            }
            s.handle_playback_done(t0);
            if let Some(t) = s.poll_timeout() {
                s.handle_timeout(t);
            }
        }
        for a in drain(&mut s) {
            last = Some(a);
        }
        match last {
            Some(MenuAction::Route(Target::Menu(id))) => {
                current = if id == 1 { 0 } else { 1 };
                depth = s.depth() + 1;
            }
            other => {
                assert_eq!(other, Some(MenuAction::Hangup));
                assert_eq!(depth, MAX_MENU_DEPTH);
                break;
            }
        }
    }
}

#[test]
fn repeat_key_replays_and_is_bounded() {
    let t0 = Instant::now();
    let mut s = MenuSession::new(demo(), t0);
    drain(&mut s);
    s.handle_playback_done(t0);
    for _ in 0..MAX_REPEATS {
        s.handle_digit(t0, '*');
        assert_eq!(drain(&mut s), [play("main_menu")]);
        assert_eq!(s.failures(), 0, "repeat is not a failed try");
        s.handle_playback_done(t0);
    }
    s.handle_digit(t0, '*');
    assert_eq!(drain(&mut s), [play("invalid_choice")]);
    assert_eq!(s.failures(), 1);
}

#[test]
fn validation() {
    assert_eq!(demo().validate(), Ok(()));
    let bad = |f: fn(&mut MenuConfig)| {
        let mut c = demo();
        f(&mut c);
        c.validate()
    };
    assert!(matches!(
        bad(|c| c.prompt = " ".into()),
        Err(RoutingError::InvalidMenu { menu: 1, .. })
    ));
    assert!(bad(|c| c.max_attempts = 0).is_err());
    assert!(bad(|c| c.max_attempts = 11).is_err());
    assert!(bad(|c| c.timeout = Duration::ZERO).is_err());
    assert!(bad(|c| c.options.clear()).is_err());
    assert!(bad(|c| c.extension.min_digits = 5).is_err());
    assert!(bad(|c| c.extension.min_digits = 0).is_err());
    assert!(bad(|c| c.greeting = Some(String::new())).is_err());
    assert!(bad(|c| {
        c.options.insert('4', Target::Menu(1).into());
    })
    .is_err());
    assert!(bad(|c| c.on_failure = Some(Target::Menu(1))).is_err());
    assert!(bad(|c| {
        c.options.insert('5', Target::Message(String::new()).into());
    })
    .is_err());
    assert_eq!(
        bad(|c| {
            c.options.insert('A', MenuChoice::Repeat);
        }),
        Err(RoutingError::InvalidMenuKey {
            menu: 1,
            key: "A".into()
        })
    );
}

#[test]
fn json_round_trip_defaults_and_refusals() {
    let json = r##"{
        "id": 1, "name": "Hovedmeny", "prompt": "main_menu", "greeting": "welcome",
        "options": { "1": "queue:10", "2": "hunt_group:3", "3": "menu:2", "0": "user:resepsjon",
                     "9": "dial_extension", "*": "repeat", "#": "message:closed" },
        "on_failure": "queue:10"
    }"##;
    let c: MenuConfig = serde_json::from_str(json).unwrap();
    assert_eq!(c.timeout, DEFAULT_TIMEOUT);
    assert_eq!(c.max_attempts, DEFAULT_MAX_ATTEMPTS);
    assert_eq!(c.extension, ExtensionDialling::default());
    assert_eq!(c.options[&'#'], Target::Message("closed".into()).into());
    assert_eq!(c.on_failure, Some(Target::Queue(10)));
    let back: MenuConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);

    let err = |json: &str| {
        serde_json::from_str::<MenuConfig>(json)
            .unwrap_err()
            .to_string()
    };
    assert!(err(r#"{"id":1,"prompt":"p","options":{"12":"repeat"}}"#).contains("not a key"));
    assert!(err(r#"{"id":1,"prompt":"p","options":{"1":"queue:x"}}"#).contains("not a menu choice"));
    assert!(err(r#"{"id":1,"prompt":"p","options":{"1":"menu:1"}}"#).contains("routes to itself"));
    assert!(
        err(r#"{"id":1,"prompt":"p","options":{"1":"repeat"},"timout_ms":1}"#)
            .contains("unknown field")
    );
    for t in [
        Target::User("ola".into()),
        Target::HuntGroup(1),
        Target::Queue(2),
        Target::Menu(3),
        Target::Trunk(4),
        Target::Message("closed".into()),
    ] {
        assert_eq!(parse_target(&format_target(&t)), Some(t));
    }
    assert_eq!(parse_target("user:"), None);
    assert_eq!(parse_target("queue"), None);
}

#[derive(Debug, Clone)]
enum Input {
    Digit(char),
    /// Fire the armed timer, if any.
    Timeout,
    PlaybackDone,
    /// Time passes without a timer firing.
    Wait(u64),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => proptest::sample::select(vec![
            '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A'
        ])
        .prop_map(Input::Digit),
        2 => Just(Input::Timeout),
        3 => Just(Input::PlaybackDone),
        1 => (0u64..10_000).prop_map(Input::Wait),
    ]
}

fn random_config() -> impl Strategy<Value = MenuConfig> {
    (1u32..=4, any::<bool>(), any::<bool>(), 1u8..=4, 0u8..=2).prop_map(
        |(attempts, greeting, on_failure, min, extra)| {
            let mut c = MenuConfig::new(1, "m", "main_menu")
                .with_option('1', Target::Queue(1))
                .with_option('2', Target::Menu(2))
                .with_option('9', MenuChoice::DialExtension)
                .with_option('*', MenuChoice::Repeat)
                .with_option('#', MenuChoice::Repeat);
            c.max_attempts = attempts;
            if greeting {
                c.greeting = Some("welcome".into());
            }
            if on_failure {
                c.on_failure = Some(Target::Queue(7));
            }
            c.extension.min_digits = min;
            c.extension.max_digits = min + extra;
            c
        },
    )
}

proptest! {
    #[test]
    fn any_input_sequence_ends_in_route_or_hangup(
        config in random_config(),
        inputs in proptest::collection::vec(input(), 0..200),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = MenuSession::new(config, now);
        let mut actions = Vec::new();
        let mut playing = false;
        let step = |s: &mut MenuSession, playing: &mut bool, actions: &mut Vec<MenuAction>| {
            while let Some(a) = s.poll_action() {
                match &a {
                    MenuAction::Play { .. } => *playing = true,
                    MenuAction::StopPlayback => *playing = false,
                    _ => {}
                }
                actions.push(a);
            }
        };
        step(&mut s, &mut playing, &mut actions);
        for i in inputs {
            match i {
                Input::Digit(d) => s.handle_digit(now, d),
                Input::Timeout => {
                    if let Some(t) = s.poll_timeout() {
                        now = now.max(t);
                        s.handle_timeout(now);
                    }
                }
                Input::PlaybackDone => {
                    // Reported only for a prompt that is playing, as call control does.
                    if playing {
                        playing = false;
                        s.handle_playback_done(now);
                    }
                }
                Input::Wait(ms) => now += Duration::from_millis(ms),
            }
            step(&mut s, &mut playing, &mut actions);
        }
        // Then the caller goes silent: every prompt plays out and every timer fires.
        for _ in 0..100 {
            if s.is_finished() {
                break;
            }
            if playing {
                playing = false;
                s.handle_playback_done(now);
            } else if let Some(t) = s.poll_timeout() {
                now = now.max(t);
                s.handle_timeout(now);
            }
            step(&mut s, &mut playing, &mut actions);
        }
        prop_assert!(s.is_finished());
        prop_assert_eq!(s.poll_timeout(), None);
        let last = actions.last().cloned();
        prop_assert!(
            matches!(
                last,
                Some(MenuAction::Route(_) | MenuAction::DialExtension(_) | MenuAction::Hangup)
            ),
            "ended with {:?}", last
        );
        let finals = actions
            .iter()
            .filter(|a| matches!(a, MenuAction::Route(_) | MenuAction::DialExtension(_) | MenuAction::Hangup))
            .count();
        prop_assert_eq!(finals, 1);
        // Bounded whatever the caller does: each failed try or repeat costs at most a stop, a notice and a
        // prompt, and extension digits are bounded by max_digits.
        let bound = 4 * (MAX_REPEATS as usize + MAX_ATTEMPTS_LIMIT as usize + 2) + 64;
        prop_assert!(actions.len() <= bound, "{} actions", actions.len());
        if let Some(MenuAction::DialExtension(d)) = &last {
            let ext = &s.config().extension;
            prop_assert!(d.len() >= usize::from(ext.min_digits) && d.len() <= usize::from(ext.max_digits));
            prop_assert!(d.chars().all(|c| c.is_ascii_digit()));
        }
    }
}

#[test]
fn a_key_with_a_priority_gives_it_to_the_caller() {
    let t0 = Instant::now();
    let json = r#"{"id": 1, "prompt": "main_menu",
        "options": {"1": "queue:10", "2": "queue:10", "9": "dial_extension"},
        "priorities": {"1": 5}}"#;
    let config: MenuConfig = serde_json::from_str(json).unwrap();
    for (key, priority) in [('1', 5), ('2', 0)] {
        let mut s = MenuSession::new(config.clone(), t0);
        assert_eq!(s.chosen_priority(), 0);
        s.handle_digit(t0, key);
        assert_eq!(
            drain(&mut s).last(),
            Some(&MenuAction::Route(Target::Queue(10)))
        );
        assert_eq!(s.chosen_priority(), priority, "key {key}");
    }
    let back: MenuConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
    assert_eq!(back, config);
    // Only keys that route may carry a priority, and only 1..=9.
    for bad in [
        r#""priorities": {"9": 5}"#,
        r#""priorities": {"3": 5}"#,
        r#""priorities": {"1": 0}"#,
        r#""priorities": {"1": 10}"#,
    ] {
        let json = format!(
            r#"{{"id": 1, "prompt": "p", "options": {{"1": "queue:10", "9": "dial_extension"}}, {bad}}}"#
        );
        assert!(serde_json::from_str::<MenuConfig>(&json).is_err(), "{bad}");
    }
}

#[test]
fn a_menu_schedule_and_closed_target_round_trip() {
    let json = r#"{"id": 1, "prompt": "p", "options": {"1": "queue:10"},
        "schedule_id": 4, "closed": "message:closed_helse"}"#;
    let c: MenuConfig = serde_json::from_str(json).unwrap();
    assert_eq!(c.schedule_id, Some(4));
    assert_eq!(c.closed, Some(Target::Message("closed_helse".into())));
    let back: MenuConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    // A closed target without a schedule could never be used: refused as a likely mistake.
    let no_schedule =
        r#"{"id": 1, "prompt": "p", "options": {"1": "queue:10"}, "closed": "queue:3"}"#;
    assert!(serde_json::from_str::<MenuConfig>(no_schedule).is_err());
    let to_itself = r#"{"id": 1, "prompt": "p", "options": {"1": "queue:10"}, "schedule_id": 4, "closed": "menu:1"}"#;
    assert!(serde_json::from_str::<MenuConfig>(to_itself).is_err());
}
