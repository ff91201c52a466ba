//! Batched writes: many rows of several kinds committed in one transaction.

use crate::error::Result;
use crate::records::{EventRecord, ResourceRecord, SnapshotRecord, StackRecord};
use crate::{stacks, Store};
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
        // Runs of resource inserts go out as multi-row statements; events go last (they depend
        // only on their stack, inserted earlier in the batch), all together.
        let mut resource_run: Vec<&ResourceRecord> = Vec::new();
        let mut events: Vec<(&EventRecord, i64)> = Vec::with_capacity(event_count);
        for (index, write) in writes.iter().enumerate() {
            match write {
                Write::InsertResource(resource) => {
                    resource_run.push(resource);
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
            stacks::insert_resources(&mut tx, &self.cipher, &resource_run).await?;
            resource_run.clear();
            match write {
                Write::InsertStack(stack) => {
                    stacks::insert_stack(&mut tx, &self.cipher, stack).await?
                }
                Write::UpdateStack(stack) => assigned.push((
                    index,
                    stacks::update_stack(&mut tx, &self.cipher, stack).await?,
                )),
                Write::UpdateResource(resource) => assigned.push((
                    index,
                    stacks::update_resource(&mut tx, &self.cipher, resource).await?,
                )),
                Write::DeleteResource { id } => stacks::delete_resource(&mut tx, *id).await?,
                Write::InsertSnapshot(snapshot) => {
                    stacks::insert_snapshot(&mut tx, snapshot).await?
                }
                Write::UpdateSnapshot(snapshot) => {
                    assigned.push((index, stacks::update_snapshot(&mut tx, snapshot).await?))
                }
                Write::DeleteSnapshot { id } => stacks::delete_snapshot(&mut tx, *id).await?,
                Write::InsertResource(_) | Write::InsertEvent(_) => {}
            }
        }
        stacks::insert_resources(&mut tx, &self.cipher, &resource_run).await?;
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
