//! Historical queue statistics, computed from the call records (`cdrs.queue_id`, `queue_wait_ms`,
//! `queue_outcome`): what a municipality reports on per week or month, where the live figures
//! (`/queues/stats`) only cover what the running node has seen.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use crate::cdrs::QueueOutcome;
use crate::{Db, SchemaError};

/// The longest period one query may cover: a year and a day.
pub const MAX_HISTORY_MS: i64 = 366 * 24 * 3600 * 1000;

/// One queue's calls in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueHistory {
    pub queue_id: i64,
    /// The period: calls that started in `[from_ms, to_ms)`, unix milliseconds.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Calls that came to the queue (including those refused at the door and sent on).
    pub offered: i64,
    pub answered: i64,
    /// The caller hung up while waiting.
    pub abandoned: i64,
    /// Sent to the overflow target (full, waited too long, nobody logged in).
    pub overflowed: i64,
    /// Booked a callback instead of waiting.
    pub callbacks: i64,
    /// The service-level target used, seconds (the queue's `service_level_secs`).
    pub service_level_secs: i64,
    /// Answered within the service-level target.
    pub answered_within_service_level: i64,
    /// `answered_within_service_level` as a percentage of the offered calls minus callbacks, in
    /// hundredths of a percent (9550 = 95.50 %); null when nothing was offered.
    pub service_level_basis_points: Option<i64>,
    /// Mean wait of the answered calls, ms.
    pub average_answer_wait_ms: Option<i64>,
    /// Longest wait of any caller (answered or not), ms.
    pub longest_wait_ms: Option<i64>,
    /// Mean wait before abandoning, ms.
    pub average_abandon_wait_ms: Option<i64>,
    /// Mean talk time of the answered calls that have ended, ms.
    pub average_talk_ms: Option<i64>,
    /// Per agent who answered, by username.
    pub agents: Vec<AgentHistory>,
}

/// One agent's answered calls from one queue in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentHistory {
    pub user: String,
    pub answered: i64,
    /// Talk time of those calls that have ended, ms.
    pub talk_ms: i64,
    pub average_talk_ms: Option<i64>,
}

#[derive(Default)]
struct Sums {
    count: i64,
    total: i64,
}

impl Sums {
    fn add(&mut self, v: i64) {
        self.count += 1;
        self.total = self.total.saturating_add(v);
    }

    fn mean(&self) -> Option<i64> {
        (self.count > 0).then(|| self.total / self.count)
    }
}

impl Db {
    /// Statistics of queue `queue_id` over the calls that started in `[from_ms, to_ms)`.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown queue and [`SchemaError::Invalid`] for a
    /// period that is empty, reversed or longer than [`MAX_HISTORY_MS`].
    pub async fn queue_history(
        &self,
        queue_id: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<QueueHistory, SchemaError> {
        if to_ms <= from_ms {
            return Err(SchemaError::invalid("to", "must be after from"));
        }
        if to_ms.saturating_sub(from_ms) > MAX_HISTORY_MS {
            return Err(SchemaError::invalid("to", "the period is at most 366 days"));
        }
        let service_level_secs =
            sqlx::query_scalar::<_, i64>("SELECT service_level_secs FROM queues WHERE id = $1")
                .bind(queue_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| SchemaError::NotFound(format!("queue {queue_id}")))?;
        // Rows, not SQL aggregates: AVG's type differs between SQLite and PostgreSQL, and a year of
        // one queue's calls is a few hundred thousand small rows at most.
        let rows = sqlx::query(
            "SELECT queue_outcome, queue_wait_ms, answered_by, answered_at_ms, ended_at_ms \
             FROM cdrs WHERE queue_id = $1 AND started_at_ms >= $2 AND started_at_ms < $3 \
             AND queue_outcome IS NOT NULL",
        )
        .bind(queue_id)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        let service_level_ms = service_level_secs.saturating_mul(1000);
        let mut h = QueueHistory {
            queue_id,
            from_ms,
            to_ms,
            offered: 0,
            answered: 0,
            abandoned: 0,
            overflowed: 0,
            callbacks: 0,
            service_level_secs,
            answered_within_service_level: 0,
            service_level_basis_points: None,
            average_answer_wait_ms: None,
            longest_wait_ms: None,
            average_abandon_wait_ms: None,
            average_talk_ms: None,
            agents: Vec::new(),
        };
        let (mut answer_wait, mut abandon_wait, mut talk) =
            (Sums::default(), Sums::default(), Sums::default());
        let mut agents: BTreeMap<String, (i64, Sums)> = BTreeMap::new();
        for row in &rows {
            let outcome: String = row.try_get("queue_outcome")?;
            let outcome = QueueOutcome::from_db(&outcome)?;
            let wait = row.try_get::<Option<i64>, _>("queue_wait_ms")?.unwrap_or(0);
            h.offered += 1;
            h.longest_wait_ms = Some(h.longest_wait_ms.unwrap_or(0).max(wait));
            match outcome {
                QueueOutcome::Answered => {
                    h.answered += 1;
                    answer_wait.add(wait);
                    if wait <= service_level_ms {
                        h.answered_within_service_level += 1;
                    }
                    let by: Option<String> = row.try_get("answered_by")?;
                    // A cellular leg answers as "user/cellular": the agent is the user.
                    let user = by
                        .as_deref()
                        .map(|b| b.split('/').next().unwrap_or(b).to_string())
                        .unwrap_or_default();
                    let agent = agents.entry(user).or_default();
                    agent.0 += 1;
                    let answered: Option<i64> = row.try_get("answered_at_ms")?;
                    let ended: Option<i64> = row.try_get("ended_at_ms")?;
                    if let (Some(a), Some(e)) = (answered, ended) {
                        let t = e.saturating_sub(a).max(0);
                        talk.add(t);
                        agent.1.add(t);
                    }
                }
                QueueOutcome::Abandoned => {
                    h.abandoned += 1;
                    abandon_wait.add(wait);
                }
                QueueOutcome::Overflow => h.overflowed += 1,
                QueueOutcome::Callback => h.callbacks += 1,
            }
        }
        let basis = h.offered - h.callbacks;
        h.service_level_basis_points =
            (basis > 0).then(|| h.answered_within_service_level * 10_000 / basis);
        h.average_answer_wait_ms = answer_wait.mean();
        h.average_abandon_wait_ms = abandon_wait.mean();
        h.average_talk_ms = talk.mean();
        h.agents = agents
            .into_iter()
            .map(|(user, (answered, t))| AgentHistory {
                user,
                answered,
                talk_ms: t.total,
                average_talk_ms: t.mean(),
            })
            .collect();
        Ok(h)
    }
}
