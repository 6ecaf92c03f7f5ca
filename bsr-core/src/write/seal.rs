//! Sealing a container, written once for the writer and for recovery: its `SHA256SUM` is
//! complete and durable, then `SHA256SUM.sig` is written and the folder's entries are made
//! durable. A container with a non-empty `SHA256SUM.sig` is finished.

use crate::error::Result;
use crate::format;
use crate::keys::RecordingKeys;
use crate::store::{WriteStore, join};

/// Signs `sums` (the complete, durable `SHA256SUM` of `dir`) with the recording's private key,
/// writes `SHA256SUM.sig` (replacing a torn one) and syncs the folder.
pub(crate) fn seal(
    store: &dyn WriteStore,
    dir: &str,
    keys: &RecordingKeys,
    sums: &[u8],
) -> Result<()> {
    let sig = keys.sign_checksums(sums);
    store.replace(&join(dir, format::SIG_FILE), &sig)?;
    store.sync_dir(dir)
}
