//! Loads call control's configuration snapshot from the database (at start, on the admin API's
//! change notices, and when another writer bumped the configuration version).

use std::collections::HashMap;

use call_control::Snapshot;
use switchboard_media::srtp::SrtpPolicy;
use switchboard_schema::{Db, SchemaError};

/// Everything call control decides on, read in one go.
pub(super) async fn load(db: &Db) -> Result<Snapshot, SchemaError> {
    let toll = db.toll_limits().await?;
    let mut snapshot = Snapshot::from_rows(
        db.list_public_numbers().await?,
        db.list_users().await?,
        db.list_user_call_settings().await?,
        db.list_hunt_groups().await?,
        db.list_queues().await?,
        db.list_menus().await?,
        db.list_schedules().await?,
        db.list_trunks().await?,
        db.main_number().await?,
    );
    snapshot.toll_limits = call_control::TollLimits {
        max_concurrent: toll.max_concurrent_per_user,
        max_minutes_per_hour: toll.max_minutes_per_hour_per_user,
    };
    Ok(snapshot)
}

/// The users' SRTP policies as the SIP core takes them.
pub(super) fn srtp_policies(snapshot: &Snapshot) -> HashMap<String, SrtpPolicy> {
    snapshot
        .users
        .iter()
        .map(|(name, entry)| {
            let policy = match entry.settings.srtp {
                switchboard_schema::SrtpPolicy::Off => SrtpPolicy::Off,
                switchboard_schema::SrtpPolicy::Preferred => SrtpPolicy::Preferred,
                switchboard_schema::SrtpPolicy::Required => SrtpPolicy::Required,
            };
            (name.clone(), policy)
        })
        .collect()
}
