//! The coordinator's recorder is the training crate's dataset writer
//! ([`murmur_train::dataset::writer`]): one safetensors file per episode,
//! written atomically, and a manifest with every file's SHA-256
//! (`docs/dataset.md`). This module re-exports it with the two checks a
//! `murmur hil --record` run makes of what it wrote.

use std::path::Path;

use murmur_train::dataset::DatasetReader;
pub use murmur_train::dataset::{
    episode_file, DatasetHeader, DatasetSource, DatasetWriter, EpisodeEntry, EpisodeRecord, Manifest, Origin,
    SourceKind, StepRecord, DATASET_VERSION,
};

use crate::HwError;

/// Reads and checks `dir/manifest.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest, HwError> {
    murmur_train::dataset::read_manifest(dir).map_err(HwError::Dataset)
}

/// Checks every episode the manifest lists with the training crate's
/// reader: the file exists, its SHA-256 matches, its tensors are the
/// format's and its step count is the manifest's. Returns the manifest.
pub fn verify(dir: &Path) -> Result<Manifest, HwError> {
    let reader = DatasetReader::open(dir).map_err(HwError::Dataset)?;
    reader.episodes().map_err(HwError::Dataset)?;
    Ok(reader.manifest().clone())
}
