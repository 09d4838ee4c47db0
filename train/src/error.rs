//! The crate's error type: every failure names what was wrong and where,
//! and keeps the error that caused it (`source()`), as ripgrep's do.

use std::path::PathBuf;

/// Anything that can go wrong while configuring, training or checkpointing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file cannot be read.
    #[error("cannot read config {}: {source}", path.display())]
    ConfigRead {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A config is not valid TOML, or its values do not fit their keys.
    #[error("config {origin}{}: {message}", at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    ConfigSyntax {
        /// The file (or `--set`) the text came from.
        origin: String,
        /// Line and column (1-based), when the parser knows them.
        at: Option<(usize, usize)>,
        /// The parser's message, on one line.
        message: String,
    },
    /// `learner` names no learner of the registry.
    #[error("config {origin}: unknown learner `{name}`, expected one of {known}")]
    UnknownLearner {
        /// The config's origin.
        origin: String,
        /// The name given.
        name: String,
        /// Every learner's name.
        known: String,
    },
    /// A value is outside the range its key allows.
    #[error("config: `{key}` must be {expected}, got {got}")]
    ConfigValue {
        /// The dotted key (`mappo.lr`).
        key: String,
        /// What the key allows.
        expected: String,
        /// The value given.
        got: String,
    },
    /// A `--set key=value` override is malformed.
    #[error("--set {item}: {why}")]
    Override {
        /// The override as given.
        item: String,
        /// What is wrong with it.
        why: String,
    },
    /// `offline.reward = "individual"` on a dataset without per-agent rewards.
    #[error(
        "offline.reward = \"individual\" needs per-agent rewards, and this dataset's episodes do not all have \
         `agent_rewards` (use \"team\")"
    )]
    NoAgentRewards,
    /// Training asked of a trainer built to evaluate an offline run.
    #[error("this trainer was built for evaluation (Trainer::for_evaluation): it has not read the run's dataset")]
    EvaluationOnly,
    /// A run directory cannot be used as asked.
    #[error("run directory {}: {problem}", path.display())]
    RunDir {
        /// The run directory.
        path: PathBuf,
        /// What is wrong.
        problem: RunDirProblem,
    },
    /// Saving a checkpoint without a run directory attached.
    #[error("no run directory attached: nowhere to save")]
    NoRunDir,
    /// An environment was set up inconsistently.
    #[error("environment: {0}")]
    Env(Box<EnvProblem>),
    /// `--device cuda` was asked for and CUDA cannot be used.
    #[error("device: --device cuda was asked for, but {0}")]
    Device(#[from] crate::device::CudaUnavailable),
    /// An episode dataset is missing, corrupt or does not fit the team.
    #[error("dataset {}: {problem}", path.display())]
    Dataset {
        /// The manifest or episode file.
        path: PathBuf,
        /// What is wrong with it.
        problem: crate::dataset::DatasetProblem,
    },
    /// A checkpoint is missing, corrupt or does not fit the network.
    #[error("checkpoint {}: {problem}", path.display())]
    Checkpoint {
        /// The checkpoint file or directory.
        path: PathBuf,
        /// What is wrong with it (its own `source()` keeps the cause; it is
        /// not this error's source, so a cause chain prints it once).
        problem: CheckpointProblem,
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

/// Why a run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirProblem {
    /// A new run would overwrite one that is there.
    #[error("already holds a run: pass --resume to continue it, or choose another --out")]
    HoldsARun,
    /// `--resume` with nothing to resume from.
    #[error("no checkpoint to resume from (checkpoints/latest is missing)")]
    NothingToResume,
}

/// What is wrong with a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointProblem {
    /// A directory named as a checkpoint is not one.
    #[error("not a checkpoint directory ({0})")]
    NotACheckpoint(String),
    /// A run's `checkpoints/` has none yet.
    #[error("no checkpoint yet (checkpoints/latest is missing): is this a run directory?")]
    NoneYet,
    /// The sidecar cannot be read.
    #[error("cannot read: {0}")]
    Unreadable(#[source] std::io::Error),
    /// The sidecar is not the JSON this crate writes.
    #[error("malformed sidecar: {0}")]
    Sidecar(#[source] serde_json::Error),
    /// Written by a murmur with another layout.
    #[error("format version {got}, this murmur reads {reads}")]
    Version {
        /// The version in the sidecar.
        got: u32,
        /// The version this crate reads.
        reads: u32,
    },
    /// A file's hash is not the sidecar's.
    #[error("SHA-256 {got} does not match the sidecar's {want}: the file is corrupt or was replaced")]
    Hash {
        /// The file's hash.
        got: String,
        /// The sidecar's.
        want: String,
    },
    /// libtorch cannot read or write the tensors.
    #[error("unreadable safetensors: {0}")]
    Tensors(#[source] tch::TchError),
    /// A tensor the network has is not in the file.
    #[error("tensor `{0}` is missing")]
    MissingTensor(String),
    /// The file holds a tensor the network does not have.
    #[error("unexpected tensor `{0}`: the checkpoint is of another network")]
    UnexpectedTensor(String),
    /// A tensor's shape is not the network's.
    #[error("tensor `{name}` has shape {got:?}, the network built from the config expects {want:?} (was the checkpoint made with another config?)")]
    Shape {
        /// The tensor.
        name: String,
        /// Its shape in the file.
        got: Vec<i64>,
        /// The network's.
        want: Vec<i64>,
    },
    /// The sidecar's actor spec is invalid.
    #[error(transparent)]
    Spec(#[from] murmur_runtime::SpecError),
    /// Made for another team or actor.
    #[error("made for actor {found:?}, the config builds {config:?}")]
    OtherActor {
        /// The checkpoint's.
        found: murmur_runtime::ActorSpec,
        /// The config's.
        config: murmur_runtime::ActorSpec,
    },
    /// Made by another learner.
    #[error("made by learner `{found}`, the config asks for `{config}`")]
    OtherLearner {
        /// The checkpoint's.
        found: String,
        /// The config's.
        config: String,
    },
}

impl From<EnvProblem> for Error {
    fn from(problem: EnvProblem) -> Self {
        Self::Env(Box::new(problem))
    }
}

/// How environments (or an actor and its environments) disagree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvProblem {
    /// A batch of no environments.
    #[error("a batch needs at least one environment")]
    EmptyBatch,
    /// Environments of a batch with different dimensions.
    #[error("environment {index} of the batch has dimensions {got:?}, environment 0 has {first:?}")]
    Mismatch {
        /// The first environment that differs.
        index: usize,
        /// Its dimensions.
        got: crate::env::batch::Dims,
        /// Environment 0's.
        first: crate::env::batch::Dims,
    },
    /// An environment with no agents, actions, observations or steps.
    #[error("environment has a zero dimension: {0:?}")]
    ZeroDimension(crate::env::batch::Dims),
    /// An actor built for other dimensions than the environments'.
    #[error("the actor was built for {actor:?}, the environments need {env:?}")]
    OtherActor {
        /// The actor's.
        actor: murmur_runtime::ActorSpec,
        /// What the environments need.
        env: murmur_runtime::ActorSpec,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// A checkpoint error about `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, problem: CheckpointProblem) -> Error {
        Error::Checkpoint { path: path.into(), problem }
    }
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
