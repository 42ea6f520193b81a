use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use sip_transport::Command;
use tokio::sync::oneshot;

use crate::{ApiError, AppState};

/// Prometheus text exposition of the SIP core's counters.
#[utoipa::path(get, path = "/metrics", tag = "node", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
              (status = 503, description = "The SIP core is not running", body = crate::ErrorBody)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .sip
        .send(Command::Snapshot(tx))
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
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
