//! Writes registration changes to the database in batches, so a REGISTER flood costs one transaction per
//! batch instead of one per message. A crash loses at most the last batch window.

use std::time::Duration;

use sip_core::push::{DeviceChange, PushDevice, PushProvider};
use sip_core::{Binding, BindingChange};
use switchboard_schema::{
    Db, PushDeviceChange, PushDeviceRow, RegistrationChange, StoredRegistration,
};
use tokio::sync::mpsc;

pub const BATCH_WINDOW: Duration = Duration::from_millis(250);

pub fn to_stored(b: &Binding) -> StoredRegistration {
    StoredRegistration {
        aor: b.aor.clone(),
        contact_uri: b.contact_uri.clone(),
        contact_value: b.contact_value.clone(),
        expires_at: b.expires_at_unix,
        q_milli: b.q_milli,
        call_id: b.call_id.clone(),
        cseq: i64::from(b.cseq),
        transport: b.transport.clone(),
        source: b.source.clone(),
        user_agent: b.user_agent.clone(),
    }
}

pub fn from_stored(r: StoredRegistration) -> Binding {
    Binding {
        aor: r.aor,
        contact_uri: r.contact_uri,
        contact_value: r.contact_value,
        expires_at_unix: r.expires_at,
        q_milli: r.q_milli,
        call_id: r.call_id,
        cseq: u32::try_from(r.cseq).unwrap_or(0),
        transport: r.transport,
        source: r.source,
        user_agent: r.user_agent,
    }
}

/// Runs until the sending side closes, then writes what is left.
pub async fn writer(db: Db, mut rx: mpsc::UnboundedReceiver<Vec<BindingChange>>) {
    let mut pending: Vec<RegistrationChange> = Vec::new();
    let mut tick = tokio::time::interval(BATCH_WINDOW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            batch = rx.recv() => match batch {
                Some(batch) => pending.extend(batch.iter().map(|c| match c {
                    BindingChange::Upsert(b) => RegistrationChange::Upsert(to_stored(b)),
                    BindingChange::Remove { aor, contact_uri } => RegistrationChange::Remove {
                        aor: aor.clone(),
                        contact_uri: contact_uri.clone(),
                    },
                })),
                None => break,
            },
            _ = tick.tick() => flush(&db, &mut pending).await,
        }
    }
    flush(&db, &mut pending).await;
}

async fn flush(db: &Db, pending: &mut Vec<RegistrationChange>) {
    if pending.is_empty() {
        return;
    }
    match db.apply_registration_changes(pending).await {
        Ok(()) => {
            tracing::debug!(changes = pending.len(), "registrations persisted");
            pending.clear();
        }
        // Keep them and try again on the next tick; the live state in memory is unaffected.
        Err(e) => {
            tracing::error!(error = %e, pending = pending.len(), "persisting registrations failed")
        }
    }
}

fn device_change(change: &DeviceChange) -> PushDeviceChange {
    match change {
        DeviceChange::Upsert(d) => PushDeviceChange::Upsert {
            aor: d.aor.clone(),
            provider: d.provider.as_str().to_string(),
            prid: d.prid.clone(),
            param: d.param.clone(),
            registered_at: d.registered_unix,
        },
        DeviceChange::Remove { aor, prid } => PushDeviceChange::Remove {
            aor: aor.clone(),
            prid: prid.clone(),
        },
    }
}

/// A stored push device as the registrar knows it; `None` for a provider this build does not serve.
pub fn device_from_stored(row: PushDeviceRow) -> Option<PushDevice> {
    Some(PushDevice {
        provider: PushProvider::parse(&row.provider)?,
        aor: row.aor,
        prid: row.prid,
        param: row.param,
        registered_unix: row.registered_at,
    })
}

/// Writes push-device changes (rare: an app registering or refreshing) as they come, in order.
pub async fn device_writer(db: Db, mut rx: mpsc::UnboundedReceiver<Vec<DeviceChange>>) {
    while let Some(batch) = rx.recv().await {
        let changes: Vec<PushDeviceChange> = batch.iter().map(device_change).collect();
        if let Err(e) = db.apply_push_device_changes(&changes).await {
            tracing::error!(error = %e, "persisting push devices failed");
        }
    }
}
