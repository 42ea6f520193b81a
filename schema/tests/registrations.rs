//! Persisted registrations, on every backend.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use switchboard_schema::{Backend, Db, RegistrationChange, StoredRegistration};

const NOW: i64 = 1_700_000_000;

fn registration(aor: &str, contact_uri: &str, expires_at: i64) -> StoredRegistration {
    StoredRegistration {
        aor: aor.to_owned(),
        contact_uri: contact_uri.to_owned(),
        contact_value: format!(
            "\"Desk\" <{contact_uri}>;q=0.5;expires=3600;+sip.instance=\"<urn:uuid:1>\""
        ),
        expires_at,
        q_milli: 500,
        call_id: format!("{aor}-call@192.0.2.1"),
        cseq: 1,
        transport: "tcp".to_owned(),
        source: "192.0.2.1:49152".to_owned(),
        user_agent: Some("Linphone/5.2 (belle-sip/5.2)".to_owned()),
    }
}

fn upsert(reg: &StoredRegistration) -> RegistrationChange {
    RegistrationChange::Upsert(reg.clone())
}

fn remove(aor: &str, contact_uri: &str) -> RegistrationChange {
    RegistrationChange::Remove {
        aor: aor.to_owned(),
        contact_uri: contact_uri.to_owned(),
    }
}

fn remove_all(aor: &str) -> RegistrationChange {
    RegistrationChange::RemoveAll {
        aor: aor.to_owned(),
    }
}

on_every_backend!(
    upsert_roundtrips_and_updates,
    load_returns_only_unexpired,
    remove_and_remove_all,
    batch_matches_sequential_application,
    ten_thousand_changes_in_one_batch,
    empty_batch_is_a_no_op,
);

async fn upsert_roundtrips_and_updates(db: Db) {
    let a = registration("201", "sip:201@192.0.2.1:5060;transport=tcp", NOW + 3600);
    let mut b = registration("201", "sip:201@[2001:db8::1]:5060", NOW + 60);
    b.user_agent = None;
    b.q_milli = 1000;
    b.cseq = i64::from(u32::MAX);
    b.contact_value =
        "<sip:201@[2001:db8::1]:5060>;reg-id=1;+sip.instance=\"<urn:uuid:ÿ-✓>\"".to_owned();
    db.apply_registration_changes(&[upsert(&a), upsert(&b)])
        .await
        .unwrap();
    // Ordered by (aor, contact_uri): '1' (0x31) sorts before '[' (0x5b).
    assert_eq!(
        db.load_registrations(NOW).await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    // Refresh: same key, new values everywhere.
    let mut a2 = a.clone();
    a2.contact_value = "<sip:201@192.0.2.1:5060;transport=tcp>;expires=1800".to_owned();
    a2.expires_at = NOW + 1800;
    a2.q_milli = 100;
    a2.call_id = "other-call".to_owned();
    a2.cseq = 2;
    a2.transport = "tls".to_owned();
    a2.source = "198.51.100.7:5061".to_owned();
    a2.user_agent = None;
    db.apply_registration_changes(&[upsert(&a2)]).await.unwrap();
    assert_eq!(
        db.load_registrations(NOW).await.unwrap(),
        vec![a2.clone(), b.clone()]
    );

    // And back from NULL to a value.
    let mut a3 = a2.clone();
    a3.user_agent = Some("Zoiper".to_owned());
    db.apply_registration_changes(&[upsert(&a3)]).await.unwrap();
    assert_eq!(db.load_registrations(NOW).await.unwrap(), vec![a3, b]);
}

async fn load_returns_only_unexpired(db: Db) {
    let past = registration("201", "sip:201@h1", NOW - 1);
    let edge = registration("201", "sip:201@h2", NOW);
    let future = registration("202", "sip:202@h3", NOW + 1);
    db.apply_registration_changes(&[upsert(&past), upsert(&edge), upsert(&future)])
        .await
        .unwrap();
    assert_eq!(
        db.load_registrations(NOW).await.unwrap(),
        vec![future.clone()]
    );
    assert_eq!(
        db.load_registrations(NOW - 2).await.unwrap(),
        vec![past, edge, future.clone()]
    );

    // Expired rows stay until purged.
    assert_eq!(db.purge_expired_registrations(NOW).await.unwrap(), 2);
    assert_eq!(db.purge_expired_registrations(NOW).await.unwrap(), 0);
    assert_eq!(db.load_registrations(0).await.unwrap(), vec![future]);
}

async fn remove_and_remove_all(db: Db) {
    let regs: Vec<StoredRegistration> = ["201", "202"]
        .iter()
        .flat_map(|aor| {
            (0..3).map(move |i| registration(aor, &format!("sip:{aor}@h{i}"), NOW + 60))
        })
        .collect();
    db.apply_registration_changes(&regs.iter().map(upsert).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(db.load_registrations(NOW).await.unwrap().len(), 6);

    db.apply_registration_changes(&[remove("201", "sip:201@h1"), remove("201", "sip:201@nope")])
        .await
        .unwrap();
    let keys = |regs: Vec<StoredRegistration>| -> Vec<(String, String)> {
        regs.into_iter().map(|r| (r.aor, r.contact_uri)).collect()
    };
    let k = |aor: &str, uri: &str| (aor.to_owned(), uri.to_owned());
    assert_eq!(
        keys(db.load_registrations(NOW).await.unwrap()),
        [
            k("201", "sip:201@h0"),
            k("201", "sip:201@h2"),
            k("202", "sip:202@h0"),
            k("202", "sip:202@h1"),
            k("202", "sip:202@h2"),
        ]
    );

    db.apply_registration_changes(&[remove_all("202"), remove_all("nobody")])
        .await
        .unwrap();
    assert_eq!(
        keys(db.load_registrations(NOW).await.unwrap()),
        [k("201", "sip:201@h0"), k("201", "sip:201@h2")]
    );

    // Contact: * followed by a fresh REGISTER in the same batch.
    let fresh = registration("201", "sip:201@new", NOW + 60);
    db.apply_registration_changes(&[remove_all("201"), upsert(&fresh)])
        .await
        .unwrap();
    assert_eq!(db.load_registrations(NOW).await.unwrap(), vec![fresh]);
}

/// Random batches over a small key space, so that upserts, removals and
/// remove-alls of the same keys mix within one batch; the database must end
/// up exactly where applying the changes one at a time would.
async fn batch_matches_sequential_application(db: Db) {
    let mut model: BTreeMap<(String, String), StoredRegistration> = BTreeMap::new();
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for batch_no in 0..12 {
        let len = 1 + next(400) as usize;
        let mut batch = Vec::with_capacity(len);
        for step in 0..len {
            let aor = format!("{}", 200 + next(6));
            let uri = format!("sip:{aor}@h{}", next(5));
            let change = match next(10) {
                0..=5 => {
                    let mut reg = registration(&aor, &uri, NOW + next(100) as i64 - 20);
                    reg.cseq = (batch_no * 1000 + step) as i64;
                    if next(2) == 0 {
                        reg.user_agent = None;
                    }
                    RegistrationChange::Upsert(reg)
                }
                6..=8 => remove(&aor, &uri),
                _ => remove_all(&aor),
            };
            match &change {
                RegistrationChange::Upsert(reg) => {
                    model.insert((reg.aor.clone(), reg.contact_uri.clone()), reg.clone());
                }
                RegistrationChange::Remove { aor, contact_uri } => {
                    model.remove(&(aor.clone(), contact_uri.clone()));
                }
                RegistrationChange::RemoveAll { aor } => model.retain(|(a, _), _| a != aor),
            }
            batch.push(change);
        }
        db.apply_registration_changes(&batch).await.unwrap();
        let want: Vec<StoredRegistration> = model.values().cloned().collect();
        assert_eq!(
            db.load_registrations(i64::MIN).await.unwrap(),
            want,
            "batch {batch_no}"
        );
        let live: Vec<StoredRegistration> = model
            .values()
            .filter(|r| r.expires_at > NOW)
            .cloned()
            .collect();
        assert_eq!(
            db.load_registrations(NOW).await.unwrap(),
            live,
            "batch {batch_no}"
        );
    }
}

async fn ten_thousand_changes_in_one_batch(db: Db) {
    const N: usize = 10_000;
    let regs: Vec<StoredRegistration> = (0..N)
        .map(|i| {
            let aor = format!("{}", 1000 + i / 2);
            registration(
                &aor,
                &format!(
                    "sip:{aor}@10.{}.{}.{}:5060",
                    i >> 16,
                    (i >> 8) & 255,
                    i & 255
                ),
                NOW + 3600,
            )
        })
        .collect();
    let inserts: Vec<RegistrationChange> = regs.iter().map(upsert).collect();
    let started = Instant::now();
    db.apply_registration_changes(&inserts).await.unwrap();
    let insert_time = started.elapsed();

    // The same keys again (the ON CONFLICT path), with new values.
    let updates: Vec<RegistrationChange> = regs
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.cseq += 1;
            r.expires_at += 60;
            RegistrationChange::Upsert(r)
        })
        .collect();
    let started = Instant::now();
    db.apply_registration_changes(&updates).await.unwrap();
    let update_time = started.elapsed();

    // A mixed batch: remove half the contacts one by one, a quarter of the
    // AORs whole.
    let mut mixed = Vec::new();
    for (i, r) in regs.iter().enumerate() {
        if i % 2 == 0 {
            mixed.push(remove(&r.aor, &r.contact_uri));
        }
    }
    for aor in 1000..1000 + N / 2 {
        if aor % 4 == 0 {
            mixed.push(remove_all(&aor.to_string()));
        }
    }
    let started = Instant::now();
    db.apply_registration_changes(&mixed).await.unwrap();
    let mixed_time = started.elapsed();

    let loaded = db.load_registrations(NOW).await.unwrap();
    let want: Vec<&StoredRegistration> = regs
        .iter()
        .enumerate()
        .filter(|(i, r)| i % 2 == 1 && r.aor.parse::<usize>().unwrap() % 4 != 0)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(loaded.len(), want.len());
    for (got, want) in loaded.iter().zip(&want) {
        assert_eq!((&got.aor, &got.contact_uri), (&want.aor, &want.contact_uri));
        assert_eq!(got.cseq, want.cseq + 1);
    }

    eprintln!(
        "{:?}: {N} inserts {insert_time:?}, {N} updates {update_time:?}, \
         {} removals {mixed_time:?}",
        db.backend(),
        mixed.len()
    );
    // Generous: debug builds on a shared 2-core CI machine. The release
    // figure is far lower; this only catches a fall back to row-at-a-time.
    let limit = match db.backend() {
        Backend::Sqlite => Duration::from_secs(5),
        Backend::Postgres => Duration::from_secs(10),
    };
    for (what, took) in [
        ("insert", insert_time),
        ("update", update_time),
        ("mixed", mixed_time),
    ] {
        assert!(took < limit, "{what} batch took {took:?}");
    }
}

async fn empty_batch_is_a_no_op(db: Db) {
    db.apply_registration_changes(&[]).await.unwrap();
    assert_eq!(db.load_registrations(0).await.unwrap(), vec![]);
}
