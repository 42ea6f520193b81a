//! The demo municipality: enough data to register a softphone and try Switchboard at once.

use switchboard_schema::DEMO_MAIN_NUMBER;
use switchboard_schema::{Db, NewUser, NumberHours, PublicNumberSpec, SchemaError, TargetKind};

/// Staff of the demo municipality: extension and name.
pub const DEMO_USERS: &[(&str, &str)] = &[
    ("1001", "Kari Nordmann"),
    ("1002", "Ola Nordmann"),
    ("1003", "Ingrid Hansen"),
    ("1004", "Lars Johansen"),
    ("1005", "Sigrid Olsen"),
    ("1006", "Magnus Larsen"),
    ("1007", "Astrid Andersen"),
    ("1008", "Erik Pedersen"),
    ("1009", "Solveig Nilsen"),
    ("1010", "Henrik Kristiansen"),
];

pub fn demo_password(ext: &str) -> String {
    format!("demo-{ext}")
}

/// Demo users who can log in to the API and the pages, with their roles.
pub const DEMO_LOGINS: &[(&str, &[&str])] = &[
    ("1001", &["admin", "receptionist"]),
    ("1002", &["receptionist"]),
    ("1003", &["staff"]),
];

/// A demo user's login password (separate from the SIP password, as for real users).
pub fn demo_login_password(ext: &str) -> String {
    format!("demo-login-{ext}")
}

/// Loads the demo users into an empty database; leaves a database with users untouched.
/// Returns how many users it created.
pub async fn load(db: &Db, realm: &str, always_open: bool) -> Result<usize, SchemaError> {
    if db.user_count().await? > 0 {
        // Users exist; the routing part still goes in if nobody configured any (an upgrade).
        if db.get_user("1001").await?.is_some() && db.seed_demo_calls().await? {
            seed_citizen_path(db, always_open).await?;
        }
        return Ok(0);
    }
    for (ext, name) in DEMO_USERS {
        let creds = mobile_api::users::hash_credentials(ext, realm, &demo_password(ext));
        db.create_user(
            &NewUser {
                username: ext.to_string(),
                display_name: name.to_string(),
                mobile: Some(format!("+4790000{ext}")),
            },
            &creds,
        )
        .await?;
    }
    // Logins for the API and the pages: a receptionist who also administers, a receptionist and a
    // staff member. Only three: each password is an argon2id hash, deliberately slow to make.
    for (ext, roles) in DEMO_LOGINS {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        db.set_roles(ext, &roles).await?;
        let hash = mobile_api::auth::password::hash(demo_login_password(ext))
            .await
            .map_err(|e| SchemaError::InvalidInput(e.to_string()))?;
        db.set_login_password(ext, &hash, None).await?;
    }
    // Main number +4764000000 → hunt group "Sentralbord" (1001, 1002, ring all); +4764000100 →
    // "Helse" (1003–1005, sequential); trunk "carrier" at 127.0.0.1:5090.
    if db.seed_demo_calls().await? {
        seed_citizen_path(db, always_open).await?;
    }
    Ok(DEMO_USERS.len())
}

/// The number citizens call for the switchboard's hunt group directly, past the menu.
pub const DEMO_SWITCHBOARD_DIRECT: &str = "+4764000001";

/// The citizen's path of the demo: the main number +4764000000 answers with the menu "Trykk 1 for
/// helse, 2 for skole, 3 for teknisk, 0 for sentralbordet"; keys 1–3 lead to queues with demo
/// members, 0 to the switchboard's hunt group (also reachable directly on +4764000001). The main
/// number keeps the town hall's hours, Mon–Fri 08:00–15:30 (closed on public holidays), unless
/// `always_open`.
async fn seed_citizen_path(db: &Db, always_open: bool) -> Result<(), SchemaError> {
    fn spec<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, SchemaError> {
        serde_json::from_value(v).map_err(|e| SchemaError::InvalidInput(format!("demo data: {e}")))
    }
    let mut queue_ids = Vec::new();
    for (name, members) in [
        ("Helse", ["1003", "1004"]),
        ("Skole", ["1006", "1007"]),
        ("Teknisk", ["1008", "1009"]),
    ] {
        let members: Vec<serde_json::Value> = members
            .iter()
            .map(|u| serde_json::json!({ "user": u }))
            .collect();
        let q = db
            .create_queue(&spec(serde_json::json!({
                "name": name,
                "strategy": "longest_idle",
                "ring_timeout_secs": 20,
                "first_announce_after_secs": 20,
                "announce_every_secs": 45,
                "members": members,
            }))?)
            .await?;
        queue_ids.push(q.id);
    }
    let switchboard = db
        .list_hunt_groups()
        .await?
        .into_iter()
        .find(|g| g.name == "Sentralbord")
        .ok_or_else(|| SchemaError::NotFound("demo hunt group Sentralbord".into()))?;
    let menu = db
        .create_menu(&serde_json::json!({
            "name": "Hovedmeny",
            "greeting": "welcome",
            "prompt": "main_menu",
            "options": {
                "1": format!("queue:{}", queue_ids[0]),
                "2": format!("queue:{}", queue_ids[1]),
                "3": format!("queue:{}", queue_ids[2]),
                "0": format!("hunt_group:{}", switchboard.id),
            },
            "on_failure": format!("hunt_group:{}", switchboard.id),
        }))
        .await?;
    let hours = if always_open {
        NumberHours::default()
    } else {
        let town_hall = db
            .create_schedule(&spec(serde_json::json!({
                "name": "Rådhuset",
                "schedule": {
                    "weekly": {
                        "mon": [{"from": "08:00", "to": "15:30"}],
                        "tue": [{"from": "08:00", "to": "15:30"}],
                        "wed": [{"from": "08:00", "to": "15:30"}],
                        "thu": [{"from": "08:00", "to": "15:30"}],
                        "fri": [{"from": "08:00", "to": "15:30"}],
                    },
                    "closed_on_public_holidays": true,
                },
            }))?)
            .await?;
        NumberHours {
            schedule_id: Some(town_hall.id),
            ..NumberHours::default()
        }
    };
    db.update_public_number_with_hours(
        DEMO_MAIN_NUMBER,
        &PublicNumberSpec {
            label: "Sentralbord".into(),
            target_kind: TargetKind::Menu,
            target_ref: menu.id.to_string(),
            priority: 0,
        },
        Some(&hours),
    )
    .await?;
    db.create_public_number(
        DEMO_SWITCHBOARD_DIRECT,
        &PublicNumberSpec {
            label: "Sentralbord direkte".into(),
            target_kind: TargetKind::HuntGroup,
            target_ref: switchboard.id.to_string(),
            priority: 0,
        },
    )
    .await?;
    tracing::info!(always_open, "demo menu, queues and opening hours seeded");
    Ok(())
}

pub fn print_instructions(sip: std::net::SocketAddr, http: std::net::SocketAddr, realm: &str) {
    let host = if sip.ip().is_unspecified() {
        "<this machine's address>".to_string()
    } else {
        sip.ip().to_string()
    };
    println!(
        "\nSwitchboard demo municipality is ready.\n\
         Register a softphone (e.g. baresip, Linphone, Zoiper) with:\n  \
         user / auth user: 1001 … 1010\n  password:         demo-<ext>   (e.g. demo-1001)\n  \
         domain / proxy:   {host}:{port} (UDP or TCP)\n  realm:            {realm}\n\
         For baresip: <sip:1001@{host}:{port};transport=udp>;auth_pass=demo-1001\n\
         Call the main number +4764000000 (menu: 1 Helse, 2 Skole, 3 Teknisk queues, 0 Sentralbord;\n  \
         Mon–Fri 08:00–15:30 unless started with --demo-open), +4764000001 (Sentralbord: 1001 and\n  \
         1002 ring together) or +4764000100 (Helse: 1003, 1004, 1005 in turn); extensions call each\n  \
         other directly.\n\
         Browser softphone: http://{http}/phone (sign in as 1001 / demo-1001; needs `--ws`, as\n  \
         src/demo.sh gives)\n\
         Health: http://{http}/healthz   Registrations: http://{http}/api/v1/registrations\n",
        port = sip.port()
    );
}
