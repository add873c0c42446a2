//! `mtm state migrate`: every revision (as it was: numbers, times, changes, snapshots),
//! every record and the generated secret material, copied from one opened state into
//! another that is empty, then read back and compared.
//!
//! Both ends are opened locked by the caller, so neither changes while it copies. This
//! module only uses `open::Backend`; it does not know where either end is.

use super::open::Backend;
use super::{Store, StoreError};

/// What was copied.
#[derive(Debug, PartialEq, Eq)]
pub struct Copied {
    pub revisions: usize,
    pub records: usize,
    pub generated: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "state in {to} is not empty ({what}); not migrating into it\n  help: migrate into a new location, or remove that state first"
    )]
    NotEmpty { to: String, what: String },
    #[error("migrating from {from} to {to}")]
    Store {
        from: String,
        to: String,
        #[source]
        source: StoreError,
    },
    #[error("state in {to} does not read back as {from} did ({what}); the source is unchanged")]
    Differs {
        from: String,
        to: String,
        what: &'static str,
    },
}

/// Copy `from` into `to`, which must hold nothing yet.
pub fn migrate(from: &Backend, to: &Backend) -> Result<Copied, MigrateError> {
    let fail = |source| MigrateError::Store {
        from: from.location(),
        to: to.location(),
        source,
    };
    refuse_unless_empty(to).map_err(|e| match e {
        Ok(refusal) => refusal,
        Err(source) => fail(source),
    })?;
    let summaries = from.revisions().map_err(fail)?;
    for summary in &summaries {
        let revision = from
            .revision(summary.number)
            .map_err(fail)?
            .ok_or(StoreError::NoSuchRevision(summary.number))
            .map_err(fail)?;
        to.import_revision(&revision).map_err(fail)?;
    }
    let records = from.records().map_err(fail)?;
    for record in &records {
        to.put_record(record).map_err(fail)?;
    }
    let generated = from.generated().map_err(fail)?;
    let copied = Copied {
        revisions: summaries.len(),
        records: records.len(),
        generated: generated.len(),
    };
    if !generated.is_empty() {
        to.put_generated(generated.clone()).map_err(fail)?;
    }
    let differs = |what| MigrateError::Differs {
        from: from.location(),
        to: to.location(),
        what,
    };
    if to.revisions().map_err(fail)? != summaries {
        return Err(differs("the revision list"));
    }
    if to.records().map_err(fail)? != records {
        return Err(differs("the records"));
    }
    if to.generated().map_err(fail)? != generated {
        return Err(differs("the generated values"));
    }
    Ok(copied)
}

/// `Ok(())` when `to` holds nothing; the refusal, or the error reading it.
fn refuse_unless_empty(to: &Backend) -> Result<(), Result<MigrateError, StoreError>> {
    let revisions = to.revisions().map_err(Err)?.len();
    let records = to.records().map_err(Err)?.len();
    let generated = to.generated().map_err(Err)?.len();
    if revisions + records + generated == 0 {
        return Ok(());
    }
    Err(Ok(MigrateError::NotEmpty {
        to: to.location(),
        what: format!("{revisions} revisions, {records} records, {generated} generated values"),
    }))
}
