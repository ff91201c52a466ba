//! Cross-process coordination: per-stack action locks with leases, the engine registry and its
//! heartbeat, and the durable work queue.
//!
//! Times are the callers' clocks (`Utc::now()`); engines sharing a PostgreSQL store are expected
//! to run NTP-synchronised clocks, and leases are long next to any skew.

use crate::codec::{micros, to_json, Cols};
use crate::error::{Conflict, Result, StoreError};
use crate::records::{now, EngineRecord, StackLock, WorkItem};
use crate::stacks::reserve_seqs;
use crate::Store;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use std::time::Duration;
use uuid::Uuid;

fn lease_end(lease: Duration) -> Result<DateTime<Utc>> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|lease| now().checked_add_signed(lease))
        .ok_or_else(|| StoreError::Config(format!("lease {lease:?} is too long")))
}

const WORK_COLUMNS: &str =
    "id, stack_id, kind, payload, claimed_by, lease_expires_at, attempts, created_at";

fn work_from_row(row: &AnyRow) -> Result<WorkItem> {
    let c = Cols(row);
    Ok(WorkItem {
        id: c.uuid("id")?,
        stack_id: c.opt_uuid("stack_id")?,
        kind: c.text("kind")?,
        payload: c.json("payload")?,
        claimed_by: c.opt_text("claimed_by")?,
        lease_expires_at: c.opt_time("lease_expires_at")?,
        attempts: c.int("attempts")?,
        created_at: c.time("created_at")?,
    })
}

impl Store {
    // -- stack locks ----------------------------------------------------------------------

    /// Takes the action lock of `stack_id` for `engine_id` until `lease` from now. Refused with
    /// [`Conflict::StackLocked`] while any engine (this one included: one action per stack)
    /// holds an unexpired lock; an expired lock is taken over.
    pub async fn acquire_stack_lock(
        &self,
        stack_id: Uuid,
        engine_id: &str,
        lease: Duration,
    ) -> Result<StackLock> {
        let expires_at = lease_end(lease)?;
        let mut conn = self.conn().await?;
        let taken = sqlx::query(
            "INSERT INTO stack_locks (stack_id, engine_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (stack_id) DO UPDATE SET engine_id = excluded.engine_id, expires_at = excluded.expires_at \
             WHERE stack_locks.expires_at < $4",
        )
        .bind(stack_id.to_string())
        .bind(engine_id)
        .bind(micros(&expires_at))
        .bind(micros(&now()))
        .execute(&mut *conn)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(StackLock {
                stack_id,
                engine_id: engine_id.to_string(),
                expires_at,
            });
        }
        let holder: Option<String> =
            sqlx::query_scalar("SELECT engine_id FROM stack_locks WHERE stack_id = $1")
                .bind(stack_id.to_string())
                .fetch_optional(&mut *conn)
                .await?;
        // A holder that released in between still counts as a conflict: the caller retries.
        Err(Conflict::StackLocked {
            stack_id,
            engine_id: holder.unwrap_or_default(),
        }
        .into())
    }

    /// Extends a held lock. Refused with [`Conflict::StackLocked`] when it was lost (expired and
    /// taken over, or released).
    pub async fn renew_stack_lock(&self, lock: &mut StackLock, lease: Duration) -> Result<()> {
        let expires_at = lease_end(lease)?;
        let done = sqlx::query(
            "UPDATE stack_locks SET expires_at = $3 WHERE stack_id = $1 AND engine_id = $2",
        )
        .bind(lock.stack_id.to_string())
        .bind(lock.engine_id.as_str())
        .bind(micros(&expires_at))
        .execute(&mut *self.conn().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.lost_lock(lock.stack_id).await);
        }
        lock.expires_at = expires_at;
        Ok(())
    }

    /// Releases a held lock; refused with [`Conflict::StackLocked`] if it is no longer held.
    pub async fn release_stack_lock(&self, lock: &StackLock) -> Result<()> {
        let done = sqlx::query("DELETE FROM stack_locks WHERE stack_id = $1 AND engine_id = $2")
            .bind(lock.stack_id.to_string())
            .bind(lock.engine_id.as_str())
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(self.lost_lock(lock.stack_id).await);
        }
        Ok(())
    }

    async fn lost_lock(&self, stack_id: Uuid) -> StoreError {
        match self.stack_lock(stack_id).await {
            Ok(holder) => Conflict::StackLocked {
                stack_id,
                engine_id: holder.map(|lock| lock.engine_id).unwrap_or_default(),
            }
            .into(),
            Err(err) => err,
        }
    }

    /// The lock row of a stack, expired or not.
    pub async fn stack_lock(&self, stack_id: Uuid) -> Result<Option<StackLock>> {
        let row = sqlx::query(
            "SELECT stack_id, engine_id, expires_at FROM stack_locks WHERE stack_id = $1",
        )
        .bind(stack_id.to_string())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.map(|row| {
            let c = Cols(&row);
            Ok(StackLock {
                stack_id: c.uuid("stack_id")?,
                engine_id: c.text("engine_id")?,
                expires_at: c.time("expires_at")?,
            })
        })
        .transpose()
    }

    /// Restart recovery: takes over, for `engine_id`, every lock whose lease has run out (its
    /// engine died or hung) and returns them. Each is taken by exactly one caller.
    pub async fn take_expired_locks(
        &self,
        engine_id: &str,
        lease: Duration,
    ) -> Result<Vec<StackLock>> {
        let expires_at = lease_end(lease)?;
        let rows = sqlx::query(
            "UPDATE stack_locks SET engine_id = $1, expires_at = $2 WHERE expires_at < $3 RETURNING stack_id",
        )
        .bind(engine_id)
        .bind(micros(&expires_at))
        .bind(micros(&now()))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StackLock {
                    stack_id: Cols(row).uuid("stack_id")?,
                    engine_id: engine_id.to_string(),
                    expires_at,
                })
            })
            .collect()
    }

    // -- engines --------------------------------------------------------------------------

    /// Records that `engine_id` is alive and extends, to `lease` from now, every stack lock and
    /// work item it holds: one call per heartbeat period keeps all of an engine's claims alive.
    pub async fn heartbeat(&self, engine_id: &str, lease: Duration) -> Result<()> {
        let expires_at = micros(&lease_end(lease)?);
        let at = micros(&now());
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO engines (engine_id, started_at, heartbeat_at) VALUES ($1, $2, $2) \
             ON CONFLICT (engine_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(engine_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE stack_locks SET expires_at = $2 WHERE engine_id = $1")
            .bind(engine_id)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE work_items SET lease_expires_at = $2 WHERE claimed_by = $1")
            .bind(engine_id)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    /// Known engines, most recently seen first.
    pub async fn engines(&self) -> Result<Vec<EngineRecord>> {
        let rows = sqlx::query(
            "SELECT engine_id, started_at, heartbeat_at FROM engines ORDER BY heartbeat_at DESC",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cols(row);
                Ok(EngineRecord {
                    engine_id: c.text("engine_id")?,
                    started_at: c.time("started_at")?,
                    heartbeat_at: c.time("heartbeat_at")?,
                })
            })
            .collect()
    }

    /// A clean shutdown: forgets the engine and releases its locks and claims at once instead of
    /// letting their leases run out.
    pub async fn retire_engine(&self, engine_id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for statement in [
            "DELETE FROM stack_locks WHERE engine_id = $1",
            "UPDATE work_items SET claimed_by = NULL, lease_expires_at = NULL WHERE claimed_by = $1",
            "DELETE FROM engines WHERE engine_id = $1",
        ] {
            sqlx::query(statement).bind(engine_id).execute(&mut *tx).await?;
        }
        Ok(tx.commit().await?)
    }

    // -- work queue -----------------------------------------------------------------------

    /// Queues work; it stays until an engine completes it.
    pub async fn enqueue_work(
        &self,
        stack_id: Option<Uuid>,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<WorkItem> {
        let item = WorkItem {
            id: Uuid::new_v4(),
            stack_id,
            kind: kind.to_string(),
            payload: payload.clone(),
            claimed_by: None,
            lease_expires_at: None,
            attempts: 0,
            created_at: now(),
        };
        let mut tx = self.write_tx().await?;
        let seq = reserve_seqs(&mut tx, "work_seq", 1).await?;
        sqlx::query(
            "INSERT INTO work_items (id, seq, stack_id, kind, payload, claimed_by, lease_expires_at, attempts, \
             created_at) VALUES ($1, $2, $3, $4, $5, NULL, NULL, 0, $6)",
        )
        .bind(item.id.to_string())
        .bind(seq)
        .bind(stack_id.map(|id| id.to_string()))
        .bind(kind)
        .bind(to_json(payload)?)
        .bind(micros(&item.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(item)
    }

    /// Claims up to `limit` of the oldest items that are unclaimed or whose claim expired, for
    /// `lease`. Concurrent claimers never get the same item.
    pub async fn claim_work(
        &self,
        engine_id: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<WorkItem>> {
        let expires_at = micros(&lease_end(lease)?);
        let at = micros(&now());
        // The outer condition is repeated so a PostgreSQL claimer that lost a race re-checks the
        // row it waited for and skips it.
        let rows = sqlx::query(&format!(
            "UPDATE work_items SET claimed_by = $1, lease_expires_at = $2, attempts = attempts + 1 \
             WHERE (claimed_by IS NULL OR lease_expires_at < $3) AND id IN (SELECT id FROM work_items \
             WHERE claimed_by IS NULL OR lease_expires_at < $3 ORDER BY seq LIMIT $4) RETURNING {WORK_COLUMNS}, seq"
        ))
        .bind(engine_id)
        .bind(expires_at)
        .bind(at)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.conn().await?)
        .await?;
        let mut claimed: Vec<(i64, WorkItem)> = rows
            .iter()
            .map(|row| Ok((Cols(row).int("seq")?, work_from_row(row)?)))
            .collect::<Result<_>>()?;
        claimed.sort_by_key(|(seq, _)| *seq);
        Ok(claimed.into_iter().map(|(_, item)| item).collect())
    }

    /// Removes a finished item. Refused with a conflict when this engine no longer holds it.
    pub async fn complete_work(&self, id: Uuid, engine_id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM work_items WHERE id = $1 AND claimed_by = $2")
            .bind(id.to_string())
            .bind(engine_id)
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Conflict::Constraint(format!(
                "work item {id} is not claimed by engine {engine_id}"
            ))
            .into());
        }
        Ok(())
    }

    /// Pending and claimed work, oldest first (for a stack, or all).
    pub async fn work_items(&self, stack_id: Option<Uuid>) -> Result<Vec<WorkItem>> {
        let mut conn = self.conn().await?;
        let rows = match stack_id {
            Some(id) => {
                sqlx::query(&format!(
                    "SELECT {WORK_COLUMNS} FROM work_items WHERE stack_id = $1 ORDER BY seq"
                ))
                .bind(id.to_string())
                .fetch_all(&mut *conn)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {WORK_COLUMNS} FROM work_items ORDER BY seq"
                ))
                .fetch_all(&mut *conn)
                .await?
            }
        };
        rows.iter().map(work_from_row).collect()
    }
}
