//! The layout of the sled database, its version in meta, and the migration of a state an
//! older mtm wrote: layout 1 kept no summaries, layout 2 keeps each record's summary in a
//! tree of its own beside the record, so listing state never decodes a manifest.
//!
//! It runs at open, before anything else reads; it does not know what the engine writes.

use super::{LAYOUT_KEY, OpenError, SledStore, backend, record_name};
use crate::store::{Envelope, RecordSummary, StoreError};

/// The layout this mtm writes. An older mtm (which reads up to 1) refuses a state in a
/// newer layout, so it cannot write records without their summaries.
pub(super) const LAYOUT: u32 = 2;

impl SledStore {
    /// A new database gets this layout; an older one is migrated; a newer one is refused.
    pub(super) fn check_layout(&self) -> Result<(), OpenError> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| OpenError::Failed {
            dir: self.dir.clone(),
            source,
        };
        let found = match self.meta.get(LAYOUT_KEY).map_err(|e| failed(e.into()))? {
            None => None,
            Some(bytes) => Some(
                <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| failed("its schema version is unreadable".into()))?,
            ),
        };
        match found {
            Some(found) if found > LAYOUT => Err(OpenError::NewerSchema {
                dir: self.dir.clone(),
                found,
            }),
            Some(LAYOUT) => Ok(()),
            Some(_) => self.add_summaries().map_err(|e| failed(Box::new(e))),
            None => self.set_layout().map_err(|e| failed(Box::new(e))),
        }
    }

    /// Layout 1 to 2: every record's summary written into the summaries tree (cleared
    /// first, so a migration cut short is redone whole), then the new version. sled
    /// recovers a prefix of its log, so a version 2 read back means the summaries are there.
    fn add_summaries(&self) -> Result<(), StoreError> {
        self.summaries
            .clear()
            .map_err(backend("clear record summaries"))?;
        let mut batch = ::sled::Batch::default();
        for entry in &self.records {
            let (key, value) = entry.map_err(backend("read records"))?;
            let what = record_name(&key);
            let summary: RecordSummary = Envelope::decode(&what, &value)?;
            batch.insert(key, Envelope::encode(&what, summary)?);
        }
        self.summaries
            .apply_batch(batch)
            .map_err(backend("write record summaries"))?;
        // What a reader sees is published again from the migrated state.
        self.unpublish()?;
        self.set_layout()
    }

    fn set_layout(&self) -> Result<(), StoreError> {
        self.meta
            .insert(LAYOUT_KEY, &LAYOUT.to_be_bytes())
            .map_err(backend("write the state's layout version"))?;
        self.flush()
    }
}
