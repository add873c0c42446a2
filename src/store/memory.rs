//! `MemoryStore`: a `Store` held in memory, for unit tests of the engine and commands.
//!
//! It keeps the same rules as the on-disk store (numbering, running and finished
//! revisions, snapshots) so tests written against it hold against sled too. It does not
//! persist anything, so it knows no schema, no lock and no interrupted revision.

use super::{
    Record, Revision, RevisionEntry, RevisionResult, RevisionSummary, Store, StoreError,
    now_rfc3339,
};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<String, Record>,
    revisions: BTreeMap<u64, Revision>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked while holding the lock left consistent data: every
        // operation below mutates in one step.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn running(&mut self, revision: u64) -> Result<&mut Revision, StoreError> {
        let found = self
            .revisions
            .get_mut(&revision)
            .ok_or(StoreError::NoSuchRevision(revision))?;
        if found.result != RevisionResult::Running {
            return Err(StoreError::Finished(revision));
        }
        Ok(found)
    }
}

impl Store for MemoryStore {
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self.inner().records.values().cloned().collect())
    }

    fn record(&self, address: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.inner().records.get(address).cloned())
    }

    fn put_record(&self, record: &Record) -> Result<(), StoreError> {
        self.inner()
            .records
            .insert(record.address.clone(), record.clone());
        Ok(())
    }

    fn remove_record(&self, address: &str) -> Result<bool, StoreError> {
        Ok(self.inner().records.remove(address).is_some())
    }

    fn begin_revision(
        &self,
        plan: &str,
        command: &str,
        targets: &[String],
    ) -> Result<u64, StoreError> {
        let mut inner = self.inner();
        let number = inner
            .revisions
            .keys()
            .next_back()
            .map_or(1, |last| last + 1);
        let revision = Revision {
            number,
            plan: Some(plan.to_string()),
            command: command.to_string(),
            targets: targets.to_vec(),
            started_at: now_rfc3339(),
            finished_at: None,
            result: RevisionResult::Running,
            changes: Vec::new(),
            applied: BTreeMap::new(),
        };
        inner.revisions.insert(number, revision);
        Ok(number)
    }

    fn record_change(&self, revision: u64, change: &RevisionEntry) -> Result<(), StoreError> {
        self.inner().running(revision)?.changes.push(change.clone());
        Ok(())
    }

    fn finish_revision(&self, revision: u64, result: RevisionResult) -> Result<(), StoreError> {
        if result == RevisionResult::Running {
            return Err(StoreError::FinishRunning(revision));
        }
        let mut inner = self.inner();
        let applied = inner.records.clone();
        let running = inner.running(revision)?;
        running.result = result;
        running.finished_at = Some(now_rfc3339());
        running.applied = applied;
        Ok(())
    }

    fn revisions(&self) -> Result<Vec<RevisionSummary>, StoreError> {
        Ok(self.inner().revisions.values().map(summary).collect())
    }

    fn revision(&self, number: u64) -> Result<Option<Revision>, StoreError> {
        Ok(self.inner().revisions.get(&number).cloned())
    }
}

fn summary(revision: &Revision) -> RevisionSummary {
    RevisionSummary {
        number: revision.number,
        plan: revision.plan.clone(),
        command: revision.command.clone(),
        targets: revision.targets.clone(),
        started_at: revision.started_at.clone(),
        finished_at: revision.finished_at.clone(),
        result: revision.result.clone(),
        changes: revision.changes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::contract;

    #[test]
    fn records() {
        contract::records(&MemoryStore::new());
    }

    #[test]
    fn revisions() {
        contract::revisions(&MemoryStore::new());
    }

    #[test]
    fn snapshots() {
        contract::snapshots(&MemoryStore::new());
    }

    #[test]
    fn finished_revisions_are_closed() {
        contract::finished_revisions_are_closed(&MemoryStore::new());
    }
}
