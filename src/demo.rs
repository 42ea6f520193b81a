//! The demo municipality: enough data to register a softphone and try Switchboard at once.

use switchboard_schema::{Db, NewUser, SchemaError};

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

/// Loads the demo users into an empty database; leaves a database with users untouched.
/// Returns how many users it created.
pub async fn load(db: &Db, realm: &str) -> Result<usize, SchemaError> {
    if db.user_count().await? > 0 {
        // Users exist; the routing part still goes in if nobody configured any (an upgrade).
        if db.get_user("1001").await?.is_some() {
            db.seed_demo_calls().await?;
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
    // Main number +4764000000 → hunt group "Sentralbord" (1001, 1002, ring all); +4764000100 →
    // "Helse" (1003–1005, sequential); trunk "carrier" at 127.0.0.1:5090.
    db.seed_demo_calls().await?;
    Ok(DEMO_USERS.len())
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
         Call the main number +4764000000 (hunt group Sentralbord: 1001 and 1002 ring together) or\n  \
         +4764000100 (Helse: 1003, 1004, 1005 in turn); extensions call each other directly.\n\
         Health: http://{http}/healthz   Registrations: http://{http}/api/v1/registrations\n",
        port = sip.port()
    );
}
