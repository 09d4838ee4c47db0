//! Episode datasets (docs/dataset.md): what `murmur hil --record` writes
//! and offline learners read. [`schema`] defines the format once (the
//! recorder writes through it); [`reader`] reads and checks a dataset and
//! turns its episodes into training batches.

pub mod reader;
pub mod schema;

pub use reader::{read_manifest, DatasetBatches, DatasetProblem, DatasetReader, RecordedEpisode};
pub use schema::{DatasetHeader, EpisodeEntry, Manifest, Origin, DATASET_VERSION};
