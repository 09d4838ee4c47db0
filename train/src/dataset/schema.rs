//! The episode dataset format (docs/dataset.md), defined once: the
//! manifest's types and the table of an episode file's tensors (name,
//! element type, shape, whether required). The recorder checks what it
//! writes against [`COLUMNS`] and the reader checks what it reads.

use serde::{Deserialize, Serialize};

/// Version of the dataset layout this crate writes and reads.
pub const DATASET_VERSION: u32 = 1;

/// The manifest's file name inside a dataset directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Where a recorded action came from (`action_source` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Origin {
    /// The robot's policy decided (0).
    Policy = 0,
    /// The robot could not use its observation and sent its safe action (1).
    Fallback = 1,
    /// The robot had heard nothing for too long and sent its safe action (2).
    Stale = 2,
    /// No usable answer before the deadline: the coordinator applied the
    /// safe action (3).
    Missed = 3,
    /// The robot was not in the swarm at this step: the safe action (4).
    Absent = 4,
}

/// What the dataset holds, the same for every episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetHeader {
    /// [`DATASET_VERSION`].
    pub format_version: u32,
    /// The task (`spread`, `predator_prey`, ... or a real bridge's name).
    pub environment: String,
    /// Robots in the team.
    pub n_agents: usize,
    /// Observation length per robot.
    pub obs_dim: usize,
    /// Global state length.
    pub state_dim: usize,
    /// Actions per robot.
    pub n_actions: usize,
    /// The action applied for missing or absent robots.
    pub safe_action: usize,
}

/// One episode's line in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeEntry {
    /// Episode number (unique in the dataset).
    pub episode: u64,
    /// File name inside the dataset directory.
    pub file: String,
    /// Steps executed.
    pub steps: usize,
    /// Sum of the team rewards.
    #[serde(rename = "return")]
    pub episode_return: f64,
    /// Every robot took part from start to end.
    pub complete: bool,
    /// Why not, when not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// Hex SHA-256 of the file.
    pub sha256: String,
}

/// How a dataset's episodes were produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Robots (real or simulated) in `murmur hil --record`.
    Hil,
    /// A trained actor rolled out in the simulator (`murmur collect`).
    Policy,
    /// Uniformly random actions (`murmur collect --random`).
    Random,
    /// Every episode a training run trained on (`murmur train --record`).
    Replay,
}

/// Where a dataset came from (the manifest's `source`), so a reader knows
/// what quality of behaviour it holds and which policy produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSource {
    /// How the episodes were produced.
    pub kind: SourceKind,
    /// OG-MARL's quality label: `good`, `medium`, `poor`, `replay` or
    /// `random` (any other label the user chose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// The run directory of the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The checkpoint directory of the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The learner that trained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
    /// Environment steps the policy had trained for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_steps: Option<u64>,
    /// Hex SHA-256 of the policy's `actor.safetensors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
    /// Weight of uniform exploration mixed into the policy's actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    /// The seed the collection drew environment seeds and actions from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl DatasetSource {
    /// A source of `kind` with nothing else known.
    pub fn new(kind: SourceKind) -> Self {
        Self {
            kind,
            quality: None,
            run: None,
            checkpoint: None,
            learner: None,
            env_steps: None,
            policy_sha256: None,
            epsilon: None,
            seed: None,
        }
    }
}

/// The manifest's summary of its episodes, rewritten with every episode
/// (readers recompute what they need from the entries).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Episodes listed.
    pub episodes: usize,
    /// Steps over all episodes (transitions).
    pub steps: usize,
    /// Mean team return over the episodes (0 when there are none).
    pub mean_return: f64,
}

impl DatasetSummary {
    /// The summary of `entries`.
    pub fn of(entries: &[EpisodeEntry]) -> Self {
        let n = entries.len();
        Self {
            episodes: n,
            steps: entries.iter().map(|e| e.steps).sum(),
            mean_return: if n == 0 { 0.0 } else { entries.iter().map(|e| e.episode_return).sum::<f64>() / n as f64 },
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What every episode holds.
    #[serde(flatten)]
    pub header: DatasetHeader,
    /// Where the episodes came from (absent in datasets of murmur before
    /// sources were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DatasetSource>,
    /// Size and mean return, as of the last episode written.
    #[serde(default)]
    pub summary: DatasetSummary,
    /// The episodes, in the order they were recorded.
    pub episodes: Vec<EpisodeEntry>,
}

/// `episode_000042.safetensors`.
pub fn episode_file(episode: u64) -> String {
    format!("episode_{episode:06}.safetensors")
}

/// Element type of a column (safetensors' names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// 32-bit unsigned integer.
    U32,
    /// 8-bit unsigned integer.
    U8,
}

/// One dimension of a column's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// `T`, the steps executed.
    Steps,
    /// `T + 1`: the steps and the world after the last one.
    StepsAndFinal,
    /// `n`, the robots.
    Agents,
    /// `O`, observation length.
    Obs,
    /// `S`, state length.
    State,
    /// `A`, actions per robot.
    Actions,
    /// 2: a position in the plane (x, y).
    Plane,
}

/// A tensor of an episode file.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name in the file.
    pub name: &'static str,
    /// Its element type.
    pub element: Element,
    /// Its shape, symbolically.
    pub shape: &'static [Dim],
    /// Every episode file has it.
    pub required: bool,
}

impl Column {
    /// The concrete shape for an episode of `steps` steps under `header`.
    pub fn shape_for(&self, header: &DatasetHeader, steps: usize) -> Vec<usize> {
        self.shape
            .iter()
            .map(|d| match d {
                Dim::Steps => steps,
                Dim::StepsAndFinal => steps + 1,
                Dim::Agents => header.n_agents,
                Dim::Obs => header.obs_dim,
                Dim::State => header.state_dim,
                Dim::Actions => header.n_actions,
                Dim::Plane => 2,
            })
            .collect()
    }
}

const fn column(name: &'static str, element: Element, shape: &'static [Dim], required: bool) -> Column {
    Column { name, element, shape, required }
}

use Dim::{Actions, Agents, Obs, Plane, State, Steps, StepsAndFinal};
use Element::{F32, F64, I64, U32, U8};

/// Every tensor an episode file may hold (docs/dataset.md's table).
pub const COLUMNS: &[Column] = &[
    column("state", F32, &[StepsAndFinal, State], true),
    column("obs", F32, &[StepsAndFinal, Agents, Obs], true),
    column("avail", F32, &[StepsAndFinal, Agents, Actions], true),
    column("actions", I64, &[Steps, Agents], true),
    column("probs", F32, &[Steps, Agents, Actions], true),
    column("action_source", U8, &[Steps, Agents], true),
    column("deadline_miss", U8, &[Steps, Agents], true),
    column("inference_us", U32, &[Steps, Agents], true),
    column("answer_us", F32, &[Steps, Agents], true),
    column("reward", F32, &[Steps], true),
    column("agent_rewards", F32, &[Steps, Agents], false),
    column("terminated", U8, &[Steps], true),
    column("truncated", U8, &[Steps], true),
    column("step_us", F32, &[Steps], true),
    column("time_s", F64, &[Steps], true),
    column("critic_value", F32, &[Steps], false),
    column("critic_advantage", F32, &[Steps, Agents], false),
    column("pose", F32, &[Steps, Agents, Plane], false),
];

/// What is wrong with an episode's tensors against [`COLUMNS`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// A required tensor is not there.
    #[error("tensor `{0}` is missing")]
    Missing(&'static str),
    /// A tensor the format does not define.
    #[error("tensor `{0}` is not part of dataset format {DATASET_VERSION}")]
    Unknown(String),
    /// A tensor of another element type.
    #[error("tensor `{name}` is {got:?}, expected {want:?}")]
    Element {
        /// The tensor.
        name: &'static str,
        /// Its element type.
        got: Element,
        /// The format's.
        want: Element,
    },
    /// A tensor of another shape.
    #[error("tensor `{name}` has shape {got:?}, expected {want:?}")]
    Shape {
        /// The tensor.
        name: &'static str,
        /// Its shape.
        got: Vec<usize>,
        /// The format's for this episode.
        want: Vec<usize>,
    },
}

/// Checks an episode's tensors, given as `(name, element, shape)`, against
/// [`COLUMNS`] for an episode of `steps` steps under `header`.
pub fn check<'a>(
    header: &DatasetHeader,
    steps: usize,
    tensors: impl IntoIterator<Item = (&'a str, Element, Vec<usize>)>,
) -> Result<(), SchemaError> {
    let mut seen = Vec::new();
    for (name, element, shape) in tensors {
        let col = COLUMNS.iter().find(|c| c.name == name).ok_or_else(|| SchemaError::Unknown(name.to_string()))?;
        if element != col.element {
            return Err(SchemaError::Element { name: col.name, got: element, want: col.element });
        }
        let want = col.shape_for(header, steps);
        if shape != want {
            return Err(SchemaError::Shape { name: col.name, got: shape, want });
        }
        seen.push(col.name);
    }
    match COLUMNS.iter().find(|c| c.required && !seen.contains(&c.name)) {
        Some(col) => Err(SchemaError::Missing(col.name)),
        None => Ok(()),
    }
}
