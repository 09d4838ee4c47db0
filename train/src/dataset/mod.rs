//! Episode datasets (docs/dataset.md): what `murmur hil --record`,
//! `murmur collect` and `murmur train --record` write and offline learners
//! read. [`schema`] defines the format once; [`writer`] writes through it;
//! [`reader`] reads and checks a dataset and turns its episodes into
//! training batches.

pub mod collect;
pub mod reader;
pub mod schema;
pub mod writer;

pub use reader::{read_manifest, DatasetBatches, DatasetProblem, DatasetReader, RecordedEpisode};
pub use schema::{
    episode_file, DatasetHeader, DatasetSource, DatasetSummary, EpisodeEntry, Manifest, Origin, SourceKind,
    DATASET_VERSION,
};
pub use writer::{DatasetWriter, EpisodeRecord, StepRecord};
