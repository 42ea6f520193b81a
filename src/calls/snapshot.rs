//! Loads call control's configuration snapshot from the database (at start, on the admin API's
//! change notices, and when another writer bumped the configuration version).

use call_control::Snapshot;
use switchboard_schema::{Db, SchemaError};

/// Everything call control decides on, read in one go.
pub(super) async fn load(db: &Db) -> Result<Snapshot, SchemaError> {
    Ok(Snapshot::from_rows(
        db.list_public_numbers().await?,
        db.list_users().await?,
        db.list_user_call_settings().await?,
        db.list_hunt_groups().await?,
        db.list_queues().await?,
        db.list_menus().await?,
        db.list_schedules().await?,
        db.list_trunks().await?,
        db.main_number().await?,
    ))
}
