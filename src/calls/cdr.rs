//! Call records (and recordings' ends) are written by their own task, so that a slow database
//! never holds up call control: it emits what happened and moves on; this task keeps each call's
//! row id and writes in the order it was told. Closing a record waits (briefly) for the relay's
//! final counters, each in a task of its own so one slow leg does not delay every other record.

use std::collections::HashMap;

use call_control::{QueueRecord, Record};
use sip_core::b2bua::{CallRef, CallReport, HangupSide as SipHangupSide};
use switchboard_schema::{CdrClose, Db, HangupSide};
use tokio::sync::mpsc;

use super::media::FinalCounters;

/// Writes records until call control goes away.
pub(super) async fn write_records(
    db: Db,
    finals: FinalCounters,
    mut ops: mpsc::UnboundedReceiver<Record>,
) {
    let mut rows: HashMap<CallRef, i64> = HashMap::new();
    let mut closing = tokio::task::JoinSet::new();
    while let Some(op) = ops.recv().await {
        // Reap finished closes as we go, so the set stays small.
        while closing.try_join_next().is_some() {}
        match op {
            Record::Open { call, open } => match db.cdr_open(&open).await {
                Ok(id) => {
                    rows.insert(call, id);
                }
                Err(e) => tracing::warn!(error = %e, "CDR not opened"),
            },
            Record::Answered { call, answer } => {
                if let Some(&id) = rows.get(&call) {
                    if let Err(e) = db.cdr_answered(id, &answer).await {
                        tracing::warn!(error = %e, "CDR answer not written");
                    }
                }
            }
            Record::Closed {
                call,
                report,
                queue,
                ended_at_ms,
            } => match rows.remove(&call) {
                Some(id) => {
                    let (db, finals) = (db.clone(), finals.clone());
                    closing.spawn(async move {
                        close(&db, &finals, id, &report, queue, ended_at_ms).await;
                    });
                }
                None => finals.forget(&report.media_legs),
            },
            Record::RecordingFinished {
                id,
                ended_at_ms,
                bytes,
            } => {
                let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
                match db.recording_finished(id, ended_at_ms, bytes).await {
                    Ok(rec) if bytes == 0 => {
                        tracing::warn!(recording = id, file = %rec.file_name, "recording not written")
                    }
                    Ok(rec) => {
                        tracing::info!(recording = id, file = %rec.file_name, bytes, "recording done")
                    }
                    Err(e) => {
                        tracing::warn!(recording = id, error = %e, "recording's end not stored")
                    }
                }
            }
        }
    }
    // Call control has stopped: the records being closed are finished before the database goes.
    while closing.join_next().await.is_some() {}
}

async fn close(
    db: &Db,
    finals: &FinalCounters,
    id: i64,
    report: &CallReport,
    queue: Option<QueueRecord>,
    ended_at_ms: i64,
) {
    let ring_time_ms = report.ringing.map(|r| {
        let until = report.answered.unwrap_or(report.ended);
        until.saturating_duration_since(r).as_millis() as i64
    });
    let legs: Vec<_> = report
        .branches
        .iter()
        .map(|b| serde_json::json!({"target": b.label.to_string(), "status": b.status}))
        .collect();
    let media: Vec<_> = finals
        .take(&report.media_legs)
        .await
        .into_iter()
        .map(|(leg, c)| match c {
            Some(c) => serde_json::json!({
                "leg": leg.0,
                "packets_in": c.rtp_in,
                "packets_out": c.rtp_out,
                "prompt_packets_out": c.playback_out,
                "bytes_in": c.rtp_bytes_in,
                "bytes_out": c.rtp_bytes_out,
                "lost": c.lost,
                "jitter_ms": c.jitter_us as f64 / 1000.0,
                "remote_fraction_lost": c.remote_fraction_lost,
                "remote_jitter_ms": c.remote_jitter_us.map(|j| j as f64 / 1000.0),
                "dropped_foreign": c.dropped_foreign,
            }),
            None => serde_json::json!({"leg": leg.0}),
        })
        .collect();
    let close = CdrClose {
        ended_at_ms,
        hangup_cause: report.cause.clone(),
        hangup_side: match report.side {
            SipHangupSide::Caller => HangupSide::Caller,
            SipHangupSide::Callee => HangupSide::Callee,
            SipHangupSide::System => HangupSide::System,
        },
        ring_time_ms,
        queue_id: queue.map(|q| q.queue_id),
        queue_wait_ms: queue.map(|q| i64::try_from(q.wait.as_millis()).unwrap_or(i64::MAX)),
        queue_outcome: queue.map(|q| q.outcome),
        queue_announcements: queue.map(|q| i64::from(q.announcements)),
        legs_json: serde_json::Value::Array(legs).to_string(),
        media_json: serde_json::Value::Array(media).to_string(),
    };
    if let Err(e) = db.cdr_closed(id, &close).await {
        tracing::warn!(error = %e, "CDR not closed");
    }
}
