//! SIP over WebSocket (RFC 7118): the browser softphone and app SDKs connect with the `sip`
//! subprotocol, over plain WS or over TLS (WSS). Each WebSocket message carries one SIP message
//! (RFC 7118 §5.2), text when it is UTF-8. Requests to a user registered over a WebSocket go back
//! down that connection (a browser accepts no connections); when it closes, the registrations made
//! over it end at once (see the registrar).
//!
//! The server pings every [`PING_INTERVAL`] so NATs keep the flow open and a vanished peer is noticed:
//! a connection silent (no message, not even a pong) for [`IDLE_LIMIT`] is closed.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sip_core::{ConnectionId, Peer, TransportKind};
use sip_message::Limits;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::Input;

/// How often we ping an idle peer.
pub(crate) const PING_INTERVAL: Duration = Duration::from_secs(30);
/// A peer that answers nothing for this long (three pings) is gone.
pub(crate) const IDLE_LIMIT: Duration = Duration::from_secs(95);
/// The opening handshake (HTTP upgrade) must be done by then.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const SUBPROTOCOL: &str = "sip";

/// RFC 7118 §4: the client must offer the `sip` subprotocol, and we answer with it.
#[allow(clippy::result_large_err)] // The callback's signature is tungstenite's.
fn agree_on_sip(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offers_sip = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL));
    if !offers_sip {
        let mut refusal = ErrorResponse::new(Some(
            "SIP over WebSocket needs Sec-WebSocket-Protocol: sip".to_owned(),
        ));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

/// One WebSocket connection (after TLS for WSS): the upgrade, then SIP messages in to the driver
/// and queued messages out, with pings.
pub(crate) async fn connection<S>(
    stream: S,
    transport: TransportKind,
    from: SocketAddr,
    id: ConnectionId,
    inputs: mpsc::Sender<Input>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = Limits::default();
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(limits.max_message_bytes);
    config.max_frame_size = Some(limits.max_message_bytes);
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, agree_on_sip, Some(config));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%from, error = %e, "WebSocket handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%from, "WebSocket handshake timed out");
            return;
        }
    };
    let (mut sink, mut messages) = ws.split();
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(256);
    if inputs
        .send(Input::Connected(id, (transport, from), wtx))
        .await
        .is_err()
    {
        return;
    }
    let write_task = tokio::spawn(async move {
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            let message = tokio::select! {
                next = wrx.recv() => match next {
                    Some(payload) => sip_message_frame(payload),
                    None => break,
                },
                _ = ping.tick() => Message::Ping(Bytes::new()),
            };
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let peer = Peer {
        transport,
        addr: from,
        connection: Some(id),
    };
    loop {
        let message = match tokio::time::timeout(IDLE_LIMIT, messages.next()).await {
            Ok(Some(Ok(m))) => m,
            // Closed, broken (a frame over the size limit, a protocol error) or silent too long.
            Ok(Some(Err(e))) => {
                tracing::debug!(%from, error = %e, "WebSocket closed on error");
                break;
            }
            Ok(None) | Err(_) => break,
        };
        let payload = match message {
            Message::Text(text) => Bytes::copy_from_slice(text.as_bytes()),
            Message::Binary(bytes) => bytes,
            Message::Close(_) => break,
            // Pings are answered by the library; pongs only prove the peer is there.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        };
        // A keep-alive some clients send as a message of line ends carries no SIP.
        if payload.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            if !payload.is_empty() && inputs.send(Input::Ping(peer)).await.is_err() {
                break;
            }
            continue;
        }
        if inputs.send(Input::Message(peer, payload)).await.is_err() {
            break;
        }
    }
    let _ = inputs.send(Input::Closed(id)).await;
    write_task.abort();
}

/// A SIP message as a text frame when it is UTF-8 (RFC 7118 §5.2), binary otherwise.
fn sip_message_frame(payload: Bytes) -> Message {
    match std::str::from_utf8(&payload) {
        Ok(text) => Message::text(text.to_owned()),
        Err(_) => Message::Binary(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clients_offering_sip_are_upgraded() {
        let request = |protocol: Option<&str>| {
            let mut r = Request::builder().uri("/");
            if let Some(p) = protocol {
                r = r.header("Sec-WebSocket-Protocol", p);
            }
            r.body(()).expect("request")
        };
        let ok = agree_on_sip(&request(Some("foo, sip")), Response::new(())).expect("upgraded");
        assert_eq!(ok.headers()["Sec-WebSocket-Protocol"], "sip");
        let refused = agree_on_sip(&request(Some("chat")), Response::new(()));
        assert_eq!(
            refused.map(|_| ()).map_err(|r| r.status()),
            Err(StatusCode::BAD_REQUEST)
        );
        assert!(agree_on_sip(&request(None), Response::new(())).is_err());
    }
}
