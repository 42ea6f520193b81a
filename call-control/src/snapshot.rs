//! What call control knows of the configuration: one immutable snapshot of everything an admin
//! manages that decides where calls go. The runtime shell loads it from the database at start and
//! again on every change notice; call control swaps it in whole ([`crate::CallControl::handle_config`]),
//! so no decision ever waits on a query and a call sees one consistent configuration.

use std::collections::HashMap;

use switchboard_schema::{
    HuntGroup, Menu, PublicNumber, Queue, ScheduleEntry, Trunk, User, UserCallSettings,
};

/// A user as call control needs them: their mobile and their call settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEntry {
    pub mobile: Option<String>,
    pub settings: UserCallSettings,
}

/// The routing configuration at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Public numbers by their E.164 text.
    pub numbers: HashMap<String, PublicNumber>,
    pub users: HashMap<String, UserEntry>,
    pub groups: HashMap<i64, HuntGroup>,
    pub queues: HashMap<i64, Queue>,
    pub menus: HashMap<i64, Menu>,
    pub schedules: HashMap<i64, ScheduleEntry>,
    /// Enabled trunks, best priority first.
    pub trunks: Vec<Trunk>,
    /// The municipality's main number (E.164), presented on calls out by default.
    pub main_number: Option<String>,
    /// Toll-fraud limits on staff calls abroad and to premium numbers.
    pub toll_limits: crate::TollLimits,
}

impl Snapshot {
    /// Builds the snapshot from the stored rows (as the database lists them).
    #[allow(clippy::too_many_arguments)]
    pub fn from_rows(
        numbers: Vec<PublicNumber>,
        users: Vec<User>,
        settings: Vec<(String, UserCallSettings)>,
        groups: Vec<HuntGroup>,
        queues: Vec<Queue>,
        menus: Vec<Menu>,
        schedules: Vec<ScheduleEntry>,
        mut trunks: Vec<Trunk>,
        main_number: Option<String>,
    ) -> Snapshot {
        let mut settings: HashMap<String, UserCallSettings> = settings.into_iter().collect();
        trunks.retain(|t| t.enabled);
        trunks.sort_by_key(|t| t.priority);
        Snapshot {
            numbers: numbers.into_iter().map(|n| (n.number.clone(), n)).collect(),
            users: users
                .into_iter()
                .map(|u| {
                    let s = settings.remove(&u.username).unwrap_or_default();
                    (
                        u.username,
                        UserEntry {
                            mobile: u.mobile,
                            settings: s,
                        },
                    )
                })
                .collect(),
            groups: groups.into_iter().map(|g| (g.id, g)).collect(),
            queues: queues.into_iter().map(|q| (q.id, q)).collect(),
            menus: menus.into_iter().map(|m| (m.id, m)).collect(),
            schedules: schedules.into_iter().map(|s| (s.id, s)).collect(),
            trunks,
            main_number,
            toll_limits: crate::TollLimits::default(),
        }
    }

    pub fn user(&self, username: &str) -> Option<&UserEntry> {
        self.users.get(username)
    }
}
