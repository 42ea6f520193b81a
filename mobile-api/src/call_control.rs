//! Asking call control something over one of its request channels and waiting, bounded, for the
//! answer: the live queues (`/queues/…/live`, agent states, `/metrics`) and the calls in progress
//! (`/calls`) use the same round trip.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// How long a request waits for call control before the route answers 503.
pub(crate) const CALL_CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends the request `make` builds to `channel` and waits for its answer; `None` when there is no
/// channel, it is closed, call control dropped the question or did not answer in time.
pub(crate) async fn ask<R, T>(
    channel: Option<&mpsc::Sender<R>>,
    make: impl FnOnce(oneshot::Sender<T>) -> R,
) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    channel?.send(make(reply)).await.ok()?;
    tokio::time::timeout(CALL_CONTROL_TIMEOUT, answer)
        .await
        .ok()?
        .ok()
}
