//! Batched writes: many rows of several kinds committed in one transaction.

use crate::crypto::Cipher;
use crate::error::Result;
use crate::records::{EventRecord, ResourceRecord, SnapshotRecord, StackRecord};
use crate::{stacks, Store};
use sqlx::AnyConnection;
use std::collections::HashSet;
use uuid::Uuid;

/// One write inside [`Store::apply`]. Inserts and updates carry the whole record; updates are
/// refused when the stored `version` differs from the record's.
#[derive(Debug, Clone)]
pub enum Write {
    InsertStack(Box<StackRecord>),
    /// Also how a stack is soft-deleted: set `deleted_at`.
    UpdateStack(Box<StackRecord>),
    InsertResource(Box<ResourceRecord>),
    UpdateResource(Box<ResourceRecord>),
    DeleteResource {
        id: Uuid,
    },
    /// The store assigns `seq`.
    InsertEvent(Box<EventRecord>),
    InsertSnapshot(Box<SnapshotRecord>),
    UpdateSnapshot(Box<SnapshotRecord>),
    DeleteSnapshot {
        id: Uuid,
    },
}

/// Consecutive resource inserts, or consecutive updates of distinct resources, waiting to go
/// out as multi-row statements (at most one of the two lists is non-empty).
#[derive(Default)]
struct ResourceRun<'w> {
    inserts: Vec<&'w ResourceRecord>,
    updates: Vec<&'w ResourceRecord>,
    updated_ids: HashSet<Uuid>,
}

impl ResourceRun<'_> {
    async fn flush(&mut self, conn: &mut AnyConnection, cipher: &Cipher) -> Result<()> {
        stacks::insert_resources(conn, cipher, &self.inserts).await?;
        stacks::update_resources(conn, cipher, &self.updates).await?;
        self.inserts.clear();
        self.updates.clear();
        self.updated_ids.clear();
        Ok(())
    }
}

impl Store {
    /// Commits `writes` in order in one transaction: all of them or none. On success each
    /// updated record's `version` is advanced to the stored one and each event's `seq` is set,
    /// so the caller can keep using the records; on failure they are left as they were.
    pub async fn apply(&self, writes: &mut [Write]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let event_count = writes
            .iter()
            .filter(|w| matches!(w, Write::InsertEvent(_)))
            .count();
        let mut tx = self.write_tx().await?;
        let mut next_seq = stacks::reserve_event_seqs(&mut tx, event_count).await?;
        // (index into `writes`, new version or seq), applied only once the commit succeeded.
        let mut assigned = Vec::new();
        // Resource inserts and updates go out in runs of multi-row statements; events go last
        // (they depend only on their stack, written earlier in the batch), all together.
        let mut run = ResourceRun::default();
        let mut events: Vec<(&EventRecord, i64)> = Vec::with_capacity(event_count);
        for (index, write) in writes.iter().enumerate() {
            match write {
                Write::InsertResource(resource) => {
                    if !run.updates.is_empty() {
                        run.flush(&mut tx, &self.cipher).await?;
                    }
                    run.inserts.push(resource);
                    continue;
                }
                Write::UpdateResource(resource) => {
                    // A second update of one row must see the first one's version.
                    if !run.inserts.is_empty() || run.updated_ids.contains(&resource.id) {
                        run.flush(&mut tx, &self.cipher).await?;
                    }
                    run.updated_ids.insert(resource.id);
                    run.updates.push(resource);
                    assigned.push((index, resource.version + 1));
                    continue;
                }
                Write::InsertEvent(event) => {
                    events.push((event, next_seq));
                    assigned.push((index, next_seq));
                    next_seq += 1;
                    continue;
                }
                _ => {}
            }
            run.flush(&mut tx, &self.cipher).await?;
            match write {
                Write::InsertStack(stack) => {
                    stacks::insert_stack(&mut tx, &self.cipher, stack).await?
                }
                Write::UpdateStack(stack) => assigned.push((
                    index,
                    stacks::update_stack(&mut tx, &self.cipher, stack).await?,
                )),
                Write::DeleteResource { id } => stacks::delete_resource(&mut tx, *id).await?,
                Write::InsertSnapshot(snapshot) => {
                    stacks::insert_snapshot(&mut tx, snapshot).await?
                }
                Write::UpdateSnapshot(snapshot) => {
                    assigned.push((index, stacks::update_snapshot(&mut tx, snapshot).await?))
                }
                Write::DeleteSnapshot { id } => stacks::delete_snapshot(&mut tx, *id).await?,
                Write::InsertResource(_) | Write::UpdateResource(_) | Write::InsertEvent(_) => {}
            }
        }
        run.flush(&mut tx, &self.cipher).await?;
        stacks::insert_events(&mut tx, &events).await?;
        tx.commit().await?;
        for (index, value) in assigned {
            match &mut writes[index] {
                Write::UpdateStack(stack) => stack.version = value,
                Write::UpdateResource(resource) => resource.version = value,
                Write::UpdateSnapshot(snapshot) => snapshot.version = value,
                Write::InsertEvent(event) => event.seq = value,
                _ => {}
            }
        }
        Ok(())
    }
}
