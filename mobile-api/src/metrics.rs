use std::fmt::Write as _;

use crate::sip::SipRequest;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use tokio::sync::oneshot;

use crate::{ApiError, AppState, QueueRequest};

/// Prometheus text exposition of the SIP core's counters and, when call control answers, each
/// queue's waiting callers and counters.
#[utoipa::path(get, path = "/metrics", tag = "node", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 503, description = "The SIP core is not running", body = crate::ErrorBody)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .sip
        .send(SipRequest::Snapshot(tx))
        .await
        .map_err(|_| ApiError::SipUnavailable)?;
    let s = rx.await.map_err(|_| ApiError::SipUnavailable)?;
    let mut out = String::with_capacity(1024);
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "switchboard_sip_requests_total",
        "counter",
        "SIP requests received",
        s.endpoint.requests,
    );
    metric(
        "switchboard_sip_responses_received_total",
        "counter",
        "SIP responses received",
        s.endpoint.responses_received,
    );
    metric(
        "switchboard_sip_parse_errors_total",
        "counter",
        "Messages that failed to parse",
        s.endpoint.parse_errors,
    );
    metric(
        "switchboard_sip_retransmissions_absorbed_total",
        "counter",
        "Retransmitted requests answered from the transaction layer",
        s.endpoint.retransmissions_absorbed,
    );
    metric(
        "switchboard_sip_keepalives_total",
        "counter",
        "RFC 5626 CRLF pings answered",
        s.endpoint.keepalives,
    );
    metric(
        "switchboard_registrar_challenges_total",
        "counter",
        "401 challenges sent",
        s.registrar.challenges,
    );
    metric(
        "switchboard_sip_request_challenges_total",
        "counter",
        "407 challenges to calls and other requests from phones",
        s.registrar.request_challenges,
    );
    metric(
        "switchboard_sip_trusted_connection_requests_total",
        "counter",
        "Requests from phones let through on the connection they registered over",
        s.registrar.trusted_connection_requests,
    );
    metric(
        "switchboard_sip_replays_refused_total",
        "counter",
        "Credentials refused because their nonce count was used before",
        s.registrar.replays_refused,
    );
    metric(
        "switchboard_registrar_accepted_total",
        "counter",
        "REGISTERs accepted",
        s.registrar.accepted,
    );
    metric(
        "switchboard_registrar_auth_failures_total",
        "counter",
        "Failed digest authentications",
        s.registrar.auth_failures,
    );
    metric(
        "switchboard_registrar_bans_total",
        "counter",
        "Sources banned for failed authentication",
        s.registrar.bans,
    );
    metric(
        "switchboard_registrar_ignored_total",
        "counter",
        "Requests ignored from banned sources",
        s.registrar.ignored,
    );
    metric(
        "switchboard_sip_credential_updates_total",
        "counter",
        "Users whose SIP credentials were set (the admin API's, and the CLI's once picked up)",
        s.registrar.credential_updates,
    );
    metric(
        "switchboard_sip_users_removed_total",
        "counter",
        "Users removed from the SIP core, with their bindings",
        s.registrar.users_removed,
    );
    metric(
        "switchboard_registrar_flow_bindings_ended_total",
        "counter",
        "Registrations ended because the WebSocket connection they were made over closed",
        s.registrar.flow_bindings_ended,
    );
    metric(
        "switchboard_tls_certificate_reloads_total",
        "counter",
        "TLS certificate reloads (SIGHUP) now presented on the TLS and WSS listeners",
        s.tls_reloads,
    );
    metric(
        "switchboard_tls_certificate_reload_failures_total",
        "counter",
        "TLS certificate reloads refused (unreadable or mismatched files; the old certificate stays)",
        s.tls_reload_failures,
    );
    metric(
        "switchboard_sip_bans",
        "gauge",
        "Sources banned now (scanners, floods, failed digests)",
        s.bans as u64,
    );
    metric(
        "switchboard_sip_dropped_banned_total",
        "counter",
        "Messages from banned sources dropped before parsing",
        s.shield.dropped_banned,
    );
    metric(
        "switchboard_sip_dropped_rate_limited_total",
        "counter",
        "Messages dropped before parsing because their source exceeded its rate",
        s.shield.dropped_rate,
    );
    metric(
        "switchboard_sip_scanners_banned_total",
        "counter",
        "Sources banned for naming a SIP scanner in User-Agent",
        s.shield.scanners_banned,
    );
    metric(
        "switchboard_sip_connections_refused_per_source_total",
        "counter",
        "TCP/TLS/WebSocket connections closed at once: their address held its cap already",
        s.connections_refused_per_source,
    );
    metric(
        "switchboard_sip_floods_banned_total",
        "counter",
        "Sources banned for flooding past their rate",
        s.shield.floods_banned,
    );
    metric(
        "switchboard_pushes_sent_total",
        "counter",
        "Pushes (RFC 8599 wake-ups) the provider accepted",
        s.push.sent,
    );
    metric(
        "switchboard_pushes_failed_total",
        "counter",
        "Pushes that could not be sent after retries, or whose token the provider refused",
        s.push.failed,
    );
    metric(
        "switchboard_push_invalid_tokens_total",
        "counter",
        "Push tokens the provider called invalid (their devices are forgotten)",
        s.push.invalid_tokens,
    );
    metric(
        "switchboard_calls_delivered_after_push_total",
        "counter",
        "Calls sent to an app that registered again after its push",
        s.push.delivered_after_push,
    );
    metric(
        "switchboard_push_waits_unanswered_total",
        "counter",
        "Branches whose woken app did not register within its ring time",
        s.push.unanswered,
    );
    metric(
        "switchboard_registrations",
        "gauge",
        "Live contact bindings",
        s.bindings as u64,
    );
    metric(
        "switchboard_sip_server_transactions",
        "gauge",
        "Live server transactions",
        s.server_transactions as u64,
    );
    metric(
        "switchboard_sip_tcp_connections",
        "gauge",
        "Open SIP TCP connections",
        s.tcp_connections as u64,
    );
    queue_metrics(&state, &mut out).await;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// Per-queue gauges and counters from call control's queue engine, labelled by queue id; left
/// out (the SIP metrics still answer) when the engine does not answer.
async fn queue_metrics(state: &AppState, out: &mut String) {
    let Ok(stats) = crate::queues::ask(state, |reply| QueueRequest::Stats { reply }).await else {
        return;
    };
    let queues = stats["queues"].as_array().cloned().unwrap_or_default();
    // (name, type, help, where the value is in each queue's JSON)
    let series = [
        (
            "switchboard_queue_waiting",
            "gauge",
            "Callers waiting in the queue now (callbacks included)",
            "/waiting",
        ),
        (
            "switchboard_queue_joined_total",
            "counter",
            "Callers who joined the queue",
            "/stats/joined",
        ),
        (
            "switchboard_queue_answered_total",
            "counter",
            "Queue callers answered by an agent",
            "/stats/answered",
        ),
        (
            "switchboard_queue_abandoned_total",
            "counter",
            "Queue callers who hung up while waiting",
            "/stats/abandoned",
        ),
        (
            "switchboard_queue_overflowed_total",
            "counter",
            "Queue callers sent to the overflow target",
            "/stats/overflowed",
        ),
        (
            "switchboard_queue_callbacks_requested_total",
            "counter",
            "Callbacks booked instead of waiting",
            "/stats/callbacks_requested",
        ),
        (
            "switchboard_queue_missed_offers_total",
            "counter",
            "Offers to agents that timed out or failed",
            "/stats/missed_offers",
        ),
    ];
    for (name, kind, help, pointer) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for q in &queues {
            if let (Some(id), Some(v)) = (
                q["queue"].as_u64(),
                q.pointer(pointer).and_then(|v| v.as_u64()),
            ) {
                let _ = writeln!(out, "{name}{{queue=\"{id}\"}} {v}");
            }
        }
    }
    // Toll-fraud limits (call control's; the same answer carries them).
    let toll = [
        (
            "switchboard_toll_blocked_users",
            "gauge",
            "Users blocked now from calls abroad and to premium numbers (toll-fraud limits)",
            "/toll/blocked_users",
        ),
        (
            "switchboard_toll_blocks_total",
            "counter",
            "Times a user passed a toll-fraud limit and was blocked",
            "/toll/blocks",
        ),
        (
            "switchboard_toll_calls_refused_total",
            "counter",
            "Calls abroad or to premium numbers refused by the toll-fraud limits",
            "/toll/refused",
        ),
    ];
    for (name, kind, help, pointer) in toll {
        if let Some(v) = stats.pointer(pointer).and_then(|v| v.as_u64()) {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
    }
}
