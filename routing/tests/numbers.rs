//! The number plan with Norwegian examples: classification, permissions, caller ID, routing.

use proptest::prelude::*;
use switchboard_routing::numbers::{
    check, choose_caller_id, classify_dialled, CallerIdChoice, CallerIdRequest, Denied, Dialled,
    InvalidDial, NumberClass, NumberPlan, OutboundPermission, PlanSettings, PublicNumber,
    RouteDecision, Target, UserCallerIdSettings, E164, NORWAY,
};
use switchboard_routing::RoutingError;

fn e164(s: &str) -> E164 {
    E164::parse(s).expect("test number is valid")
}

fn settings() -> PlanSettings {
    PlanSettings::default()
}

const NO_PERMISSIONS: OutboundPermission = OutboundPermission {
    internal: false,
    national: false,
    mobile: false,
    international: false,
    premium: false,
};

const ALL_PERMISSIONS: OutboundPermission = OutboundPermission {
    internal: true,
    national: true,
    mobile: true,
    international: true,
    premium: true,
};

#[test]
fn norwegian_dialling_is_classified() {
    use NumberClass::*;
    // (dialled, class, number sent to the trunk)
    let cases: &[(&str, NumberClass, &str)] = &[
        ("22334455", NationalGeographic, "+4722334455"),
        ("22 33 44 55", NationalGeographic, "+4722334455"),
        ("64 00-00.00", NationalGeographic, "+4764000000"),
        ("55123456", NationalGeographic, "+4755123456"),
        ("77123456", NationalGeographic, "+4777123456"),
        ("91234567", NationalMobile, "+4791234567"),
        ("41234567", NationalMobile, "+4741234567"),
        ("59123456", NationalMobile, "+4759123456"),
        ("581234567890", NationalMobile, "+47581234567890"),
        ("82012345", Premium, "+4782012345"),
        ("82912345", Premium, "+4782912345"),
        ("1881", Extension, ""), // shadowed by 4-digit extensions, see the next test
        ("80012345", NationalSpecial, "+4780012345"),
        ("81012345", NationalSpecial, "+4781012345"),
        ("81512345", NationalSpecial, "+4781512345"),
        ("85012345", NationalSpecial, "+4785012345"),
        ("02800", NationalSpecial, "02800"),
        ("116117", NationalSpecial, "116117"),
        ("175", NationalSpecial, "175"),
        ("110", Emergency, "110"),
        ("112", Emergency, "112"),
        ("113", Emergency, "113"),
        ("+47 112", Emergency, "112"),
        ("0047113", Emergency, "113"),
        ("004670123456", International, "+4670123456"),
        ("+46 70 123 45 6", International, "+4670123456"),
        ("+1 212 555 0100", International, "+12125550100"),
        ("+4722334455", NationalGeographic, "+4722334455"),
        ("004791234567", NationalMobile, "+4791234567"),
        ("+4782012345", Premium, "+4782012345"),
        ("1001", Extension, ""),
        ("7000", Extension, ""),
    ];
    for &(input, class, number) in cases {
        let dialled = classify_dialled(input, &settings());
        assert_eq!(dialled.class(), class, "{input:?} → {dialled:?}");
        match &dialled {
            Dialled::Public { number: n, .. } => assert_eq!(n.to_string(), number, "{input:?}"),
            Dialled::Extension(ext) => assert_eq!(*ext, input, "{input:?}"),
            Dialled::Invalid(_) => panic!("{input:?} classified invalid"),
        }
    }
}

#[test]
fn invalid_dialling_says_why() {
    use InvalidDial::*;
    let long = "1".repeat(65);
    let cases: &[(&str, InvalidDial)] = &[
        ("", Empty),
        ("   ", Empty),
        ("+", Empty),
        ("- ( )", Empty),
        ("12a4", BadCharacter),
        ("1001#", BadCharacter),
        ("*21*1001", BadCharacter),
        ("22+334455", BadCharacter),
        ("１２３", BadCharacter), // full-width digits are not digits here
        (&long, TooLong),
        ("01234567", NotInPlan),
        ("0123", NotInPlan),
        ("01234", NotInPlan),
        ("00123", BadInternational),
        ("12345", NotInPlan),
        ("2233445", NotInPlan),
        ("223344556", NotInPlan),
        ("58123456", NotInPlan),
        ("116", NotInPlan),
        ("+47 1001", NotInPlan),
        ("+4701234567", NotInPlan),
        ("+1", BadInternational),
        ("+4612345", BadInternational),
        ("+0123456789", BadInternational),
        ("0012345678901234567", BadInternational),
    ];
    for &(input, reason) in cases {
        assert_eq!(
            classify_dialled(input, &settings()),
            Dialled::Invalid(reason),
            "{input:?}"
        );
    }
}

#[test]
fn extension_length_is_configurable_and_never_shadows_emergency() {
    let five = PlanSettings {
        extension_len: 5,
        ..PlanSettings::default()
    };
    assert_eq!(
        classify_dialled("10001", &five),
        Dialled::Extension("10001".into())
    );
    // 4 digits are no longer extensions: 1881 is then directory enquiries, premium.
    assert_eq!(
        classify_dialled("1881", &five).class(),
        NumberClass::Premium
    );
    // A leading 0 is Norway's 5-digit range, never an extension.
    assert_eq!(
        classify_dialled("02800", &five).class(),
        NumberClass::NationalSpecial
    );

    let three = PlanSettings {
        extension_len: 3,
        ..PlanSettings::default()
    };
    assert_eq!(
        classify_dialled("112", &three).class(),
        NumberClass::Emergency
    );
    assert_eq!(
        classify_dialled("345", &three),
        Dialled::Extension("345".into())
    );
}

#[test]
fn default_permissions_allow_home_and_deny_abroad_and_premium() {
    let user = OutboundPermission::default();
    let verdict = |input: &str| check(&classify_dialled(input, &settings()), &user);
    assert_eq!(verdict("1001"), Ok(()));
    assert_eq!(verdict("22334455"), Ok(()));
    assert_eq!(verdict("91234567"), Ok(()));
    assert_eq!(verdict("80012345"), Ok(()));
    assert_eq!(verdict("112"), Ok(()));
    assert_eq!(
        verdict("82012345"),
        Err(Denied::NotAllowed(NumberClass::Premium))
    );
    assert_eq!(
        verdict("+4782912345"),
        Err(Denied::NotAllowed(NumberClass::Premium))
    );
    assert_eq!(
        verdict("004670123456"),
        Err(Denied::NotAllowed(NumberClass::International))
    );
    assert_eq!(
        verdict("12a"),
        Err(Denied::Invalid(InvalidDial::BadCharacter))
    );
}

#[test]
fn each_permission_gates_its_class() {
    type Grant = fn(&mut OutboundPermission);
    let cases: &[(&str, Grant)] = &[
        ("1001", |p| p.internal = true),
        ("22334455", |p| p.national = true),
        ("81012345", |p| p.national = true),
        ("91234567", |p| p.mobile = true),
        ("004670123456", |p| p.international = true),
        ("82012345", |p| p.premium = true),
    ];
    for &(input, grant) in cases {
        let dialled = classify_dialled(input, &settings());
        assert!(
            check(&dialled, &NO_PERMISSIONS).is_err(),
            "{input} allowed with nothing"
        );
        let mut one = NO_PERMISSIONS;
        grant(&mut one);
        assert_eq!(check(&dialled, &one), Ok(()), "{input} with its permission");
    }
}

#[test]
fn emergency_is_allowed_with_every_permission_off() {
    for (input, short) in [
        ("110", "110"),
        ("112", "112"),
        ("113", "113"),
        ("+47112", "112"),
        ("0047 113", "113"),
    ] {
        let dialled = classify_dialled(input, &settings());
        assert!(dialled.is_emergency(), "{input}");
        assert_eq!(check(&dialled, &NO_PERMISSIONS), Ok(()), "{input}");
        let decision = NumberPlan::new().route_internal(&dialled, &NO_PERMISSIONS, |_| None);
        assert_eq!(
            decision,
            RouteDecision::ToTrunk {
                number: PublicNumber::Short(short.into()),
                class: NumberClass::Emergency,
                emergency: true,
            },
            "{input}"
        );
    }
}

fn demo_plan() -> NumberPlan {
    let mut plan = NumberPlan::new();
    plan.insert(e164("+4764000000"), Target::Menu(1));
    plan.insert(e164("+4764000100"), Target::Queue(7));
    plan.insert(e164("+4764000200"), Target::HuntGroup(3));
    plan.insert(e164("+4764001001"), Target::User("kari".into()));
    plan
}

#[test]
fn internal_routing() {
    let plan = demo_plan();
    let users = |ext: &str| (ext == "1001").then(|| "kari".to_string());
    let route = |input: &str, perm: &OutboundPermission| {
        plan.route_internal(&classify_dialled(input, &settings()), perm, users)
    };
    let user = OutboundPermission::default();

    assert_eq!(
        route("1001", &user),
        RouteDecision::Local(Target::User("kari".into()))
    );
    assert_eq!(
        route("1009", &user),
        RouteDecision::NoSuchExtension("1009".into())
    );
    assert_eq!(
        route("1001", &NO_PERMISSIONS),
        RouteDecision::Denied(Denied::NotAllowed(NumberClass::Extension))
    );
    assert_eq!(
        route("91234567", &user),
        RouteDecision::ToTrunk {
            number: PublicNumber::E164(e164("+4791234567")),
            class: NumberClass::NationalMobile,
            emergency: false,
        }
    );
    assert_eq!(
        route("+46 70 123 45 67", &ALL_PERMISSIONS),
        RouteDecision::ToTrunk {
            number: PublicNumber::E164(e164("+46701234567")),
            class: NumberClass::International,
            emergency: false,
        }
    );
    assert_eq!(
        route("82012345", &user),
        RouteDecision::Denied(Denied::NotAllowed(NumberClass::Premium))
    );
    assert_eq!(
        route("", &user),
        RouteDecision::Denied(Denied::Invalid(InvalidDial::Empty))
    );
    // Our own public numbers stay inside, in any spelling, and need only the internal permission.
    for own in ["64000100", "+47 64 00 01 00", "004764000100"] {
        assert_eq!(
            route(own, &user),
            RouteDecision::Local(Target::Queue(7)),
            "{own}"
        );
    }
    let internal_only = OutboundPermission {
        internal: true,
        ..NO_PERMISSIONS
    };
    assert_eq!(
        route("64000200", &internal_only),
        RouteDecision::Local(Target::HuntGroup(3))
    );
}

#[test]
fn carrier_spellings_reach_the_same_inbound_target() {
    let plan = demo_plan();
    for spelling in [
        "+4764000000",
        "004764000000",
        "4764000000",
        "64000000",
        "+47 64 00 00 00",
    ] {
        let number = E164::from_carrier(spelling, &NORWAY).expect(spelling);
        assert_eq!(number.as_str(), "+4764000000");
        assert_eq!(
            plan.route_inbound(&number),
            Some(Target::Menu(1)),
            "{spelling}"
        );
    }
    assert_eq!(plan.route_inbound(&e164("+4764009999")), None);
    assert_eq!(
        E164::from_carrier("47581234567890", &NORWAY).map(|n| n.to_string()),
        Ok("+47581234567890".to_string())
    );
}

#[test]
fn carrier_parsing_refuses_what_it_cannot_place() {
    for bad in [
        "",
        "+",
        "4670123456",
        "12345",
        "112",
        "01234567",
        "+0123456789",
        "+1234567",
        "+1234567890123456",
        "sip:1001",
        "47",
    ] {
        let err = E164::from_carrier(bad, &NORWAY).expect_err(bad);
        assert!(
            matches!(err, RoutingError::InvalidNumber { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn strict_parse_wants_a_plus() {
    assert_eq!(e164("+4722334455").digits(), "4722334455");
    assert_eq!(e164("+4722334455").national("47"), Some("22334455"));
    assert_eq!(e164("+4670123456").national("47"), None);
    assert!("4722334455".parse::<E164>().is_err());
    assert!("+47223344556677889".parse::<E164>().is_err());
    assert_eq!(
        "+47 22 33 44 55".parse::<E164>().map(|n| n.to_string()),
        Ok("+4722334455".into())
    );
}

#[test]
fn caller_id_is_always_a_number_the_municipality_owns() {
    let main = e164("+4764000000");
    let direct = e164("+4764001001");
    let stranger = e164("+4791234567");
    let with_direct = |default| UserCallerIdSettings {
        direct_number: Some(direct.clone()),
        default,
    };
    let without_direct = |default| UserCallerIdSettings {
        direct_number: None,
        default,
    };
    use CallerIdChoice::{DirectNumber as D, MainNumber as M};
    use CallerIdRequest as R;
    let cases: Vec<(UserCallerIdSettings, Option<CallerIdRequest>, &E164)> = vec![
        (with_direct(M), None, &main),
        (with_direct(D), None, &direct),
        (with_direct(M), Some(R::DirectNumber), &direct),
        (with_direct(D), Some(R::MainNumber), &main),
        (with_direct(M), Some(R::Number(direct.clone())), &direct),
        (with_direct(D), Some(R::Number(main.clone())), &main),
        // Someone else's number falls back to the default, never through.
        (with_direct(M), Some(R::Number(stranger.clone())), &main),
        (with_direct(D), Some(R::Number(stranger.clone())), &direct),
        (without_direct(D), None, &main),
        (without_direct(M), Some(R::DirectNumber), &main),
        (without_direct(D), Some(R::DirectNumber), &main),
        (without_direct(D), Some(R::Number(stranger.clone())), &main),
    ];
    for (i, (user, request, expected)) in cases.into_iter().enumerate() {
        assert_eq!(
            &choose_caller_id(&user, request, &main),
            expected,
            "case {i}"
        );
    }
}

#[test]
fn the_norwegian_table_is_consistent() {
    for row in NORWAY.ranges {
        assert!(row.prefix.bytes().all(|b| b.is_ascii_digit()), "{row:?}");
        assert!(row.prefix.len() <= row.len, "{row:?}");
        assert_ne!(row.class, NumberClass::Extension);
        assert_ne!(row.class, NumberClass::International);
    }
    for number in NORWAY.emergency {
        assert_eq!(
            classify_dialled(number, &settings()).class(),
            NumberClass::Emergency
        );
    }
}

proptest! {
    #[test]
    fn classify_never_panics(input in any::<String>()) {
        let _ = classify_dialled(&input, &settings());
        let _ = E164::from_carrier(&input, &NORWAY);
        let _ = E164::parse(&input);
    }

    #[test]
    fn classify_never_panics_on_dial_like_input(input in "[0-9+ ().-]{0,24}") {
        let dialled = classify_dialled(&input, &settings());
        // Whatever goes to the trunk in E.164 form reads back as itself.
        if let Dialled::Public { number: PublicNumber::E164(n), .. } = &dialled {
            prop_assert_eq!(&E164::parse(n.as_str()).expect("valid"), n);
            prop_assert_eq!(classify_dialled(n.as_str(), &settings()), dialled.clone());
        }
    }

    #[test]
    fn e164_round_trips(digits in "[1-9][0-9]{7,14}") {
        let plus = format!("+{digits}");
        let n = E164::parse(&plus).expect("8–15 digits");
        prop_assert_eq!(n.to_string(), plus.clone());
        prop_assert_eq!(n.digits(), digits.as_str());
        prop_assert_eq!(&n.to_string().parse::<E164>().expect("round trip"), &n);
        prop_assert_eq!(&E164::from_carrier(&format!("00{digits}"), &NORWAY).expect("00 form"), &n);
        prop_assert_eq!(&E164::from_carrier(&plus, &NORWAY).expect("+ form"), &n);
    }

    #[test]
    fn norwegian_numbers_read_the_same_in_every_spelling(national in "[2-79][0-9]{7}") {
        let plain = classify_dialled(&national, &settings());
        prop_assert_eq!(&classify_dialled(&format!("+47{national}"), &settings()), &plain);
        prop_assert_eq!(&classify_dialled(&format!("0047{national}"), &settings()), &plain);
        if let Dialled::Public { number: PublicNumber::E164(n), .. } = &plain {
            prop_assert_eq!(&E164::from_carrier(&national, &NORWAY).expect("national"), n);
            prop_assert_eq!(&E164::from_carrier(&format!("47{national}"), &NORWAY).expect("47 form"), n);
        } else {
            prop_assert!(national.starts_with("58"), "only 58 is a hole in 8 digits: {:?}", plain);
        }
    }
}
