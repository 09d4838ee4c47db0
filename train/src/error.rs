//! The crate's error type: every failure names what was wrong and where.

use std::path::PathBuf;

/// Anything that can go wrong while configuring, training or checkpointing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file or override is malformed or invalid.
    #[error("{0}")]
    Config(String),
    /// An environment was set up inconsistently.
    #[error("environment: {0}")]
    Env(String),
    /// The requested compute device cannot be used.
    #[error("device: {0}")]
    Device(String),
    /// A checkpoint is missing, corrupt or does not fit the network.
    #[error("checkpoint {}: {msg}", path.display())]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// An optimiser was misused or fed an unrankable fitness.
    #[error(transparent)]
    Cmaes(#[from] crate::cmaes::CmaesError),
    /// The actor contract was violated.
    #[error(transparent)]
    Spec(#[from] murmur_runtime::SpecError),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
