//! The revision lifecycle, the one writer of state: a revision begins (lazily, right
//! before the first change, so a run that changes nothing leaves no revision), each
//! outcome is written the moment it happens (an object's intent before it is touched is
//! written by `apply.rs` through the same store), and the revision finishes with a
//! result the scheduler's report decides.
//!
//! The CLI hands the engine a [`Ledger`] (the store and what to call the revision) and
//! renders the [`Finished`] it gets back.

use super::apply::Outcome;
use crate::sched::Report;
use crate::store::{RevisionEntry, RevisionResult, Store, StoreError};
use std::sync::Mutex;

/// Where a command's revision goes, and what it says of the command.
pub struct Ledger<'s> {
    pub store: &'s dyn Store,
    pub plan: String,
    /// The command line, secrets masked.
    pub command: String,
    pub targets: Vec<String>,
}

/// How a revision ended.
#[derive(Debug)]
pub struct Finished {
    pub number: u64,
    pub result: RevisionResult,
    pub report: Report,
}

/// A revision being written: begun on first use, outcomes recorded as they come.
pub struct Revision<'l, 's> {
    ledger: &'l Ledger<'s>,
    number: Mutex<Option<u64>>,
    /// Outcomes that changed nothing on a cluster but are kept (a generated value's
    /// record), held until the revision exists and dropped with it if it never does.
    held: Mutex<Vec<Outcome>>,
    /// The first state write that failed; the revision fails with it.
    failed: Mutex<Option<String>>,
}

impl<'l, 's> Revision<'l, 's> {
    pub fn new(ledger: &'l Ledger<'s>) -> Self {
        Revision {
            ledger,
            number: Mutex::new(None),
            held: Mutex::new(Vec::new()),
            failed: Mutex::new(None),
        }
    }

    /// The store outcomes and intents go to.
    pub fn store(&self) -> &'s dyn Store {
        self.ledger.store
    }

    /// The revision's number, beginning it now if it was not yet.
    pub fn number(&self) -> Result<u64, StoreError> {
        let mut number = self.number.lock().expect("revision lock");
        if let Some(n) = *number {
            return Ok(n);
        }
        let l = self.ledger;
        let n = l.store.begin_revision(&l.plan, &l.command, &l.targets)?;
        *number = Some(n);
        Ok(n)
    }

    /// The revision's number if it was begun.
    pub fn begun(&self) -> Option<u64> {
        *self.number.lock().expect("revision lock")
    }

    /// Records one outcome: now if the revision exists, else held (`Nothing` is dropped).
    pub fn record(&self, outcome: &Outcome) {
        match self.begun() {
            None if matches!(outcome, Outcome::Nothing(_)) => {}
            None => self.held.lock().expect("held lock").push(outcome.clone()),
            Some(n) => {
                self.flush(n);
                self.write(n, outcome);
            }
        }
    }

    fn flush(&self, n: u64) {
        let held = std::mem::take(&mut *self.held.lock().expect("held lock"));
        for mut outcome in held {
            if let Outcome::Put(record, _) = &mut outcome {
                record.revision = n;
            }
            self.write(n, &outcome);
        }
    }

    fn write(&self, n: u64, outcome: &Outcome) {
        let store = self.ledger.store;
        // The record and the revision's change are flushed together.
        let written = store.together(&mut || match outcome {
            Outcome::Put(record, action) => store.put_record(record).and_then(|()| {
                store.record_change(n, &change(&record.address, *action, Some(&record.hash)))
            }),
            Outcome::Remove(address, action) => store
                .remove_record(address)
                .and_then(|_| store.record_change(n, &change(address, *action, None))),
            Outcome::Nothing(_) => Ok(()),
        });
        if let Err(e) = written {
            self.failed
                .lock()
                .expect("failed lock")
                .get_or_insert(format!("cannot write state: {e}"));
        }
    }

    /// Writes what is still held (the revision was begun) and closes the revision with
    /// the result `report` and the state writes decide; `None` if it was never begun.
    pub fn finish(self, report: Report) -> Result<Option<Finished>, StoreError> {
        let Some(number) = self.begun() else {
            return Ok(None);
        };
        self.flush(number);
        let failed = self.failed.into_inner().expect("failed lock");
        let result = result_of(&report, failed);
        self.ledger.store.finish_revision(number, result.clone())?;
        Ok(Some(Finished {
            number,
            result,
            report,
        }))
    }

    /// A state write failed: nothing more should be attempted.
    pub fn write_failed(&self) -> bool {
        self.failed.lock().expect("failed lock").is_some()
    }
}

fn change(address: &str, action: super::change::Action, hash: Option<&String>) -> RevisionEntry {
    RevisionEntry {
        address: address.to_string(),
        action: action.word().to_string(),
        hash: hash.cloned(),
    }
}

/// How a revision ends: a failed state write first, then cancellation, then failures.
pub fn result_of(report: &Report, state_error: Option<String>) -> RevisionResult {
    if let Some(message) = state_error {
        RevisionResult::Failed { message }
    } else if report.cancelled {
        RevisionResult::Interrupted
    } else if report.all_succeeded() {
        RevisionResult::Succeeded
    } else {
        RevisionResult::Failed {
            message: format!(
                "{} failed, {} skipped",
                report.failed().len(),
                report.skipped().len()
            ),
        }
    }
}
