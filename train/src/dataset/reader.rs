//! Reading an episode dataset: the manifest, every episode file checked
//! against its SHA-256 and the schema, and episodes turned into the
//! [`EpisodeBatch`] learners read.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use murmur_runtime::ActorSpec;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};
use tch::Tensor;

use super::schema::{self, DatasetHeader, Element, EpisodeEntry, Manifest, DATASET_VERSION, MANIFEST_FILE};
use crate::buffer::EpisodeBatch;
use crate::{Error, Result};

/// What is wrong with a dataset.
#[derive(Debug, thiserror::Error)]
pub enum DatasetProblem {
    /// The file cannot be read.
    #[error("cannot read: {0}")]
    Unreadable(#[source] std::io::Error),
    /// The manifest is not the JSON of the format.
    #[error("malformed manifest: {0}")]
    Manifest(#[source] serde_json::Error),
    /// Written in another version of the format.
    #[error("dataset format version {got}, this murmur reads {DATASET_VERSION}")]
    Version {
        /// The manifest's version.
        got: u32,
    },
    /// A file's hash is not the manifest's.
    #[error("SHA-256 {got} does not match the manifest's {want}: the file is corrupt or was replaced")]
    Hash {
        /// The file's.
        got: String,
        /// The manifest's.
        want: String,
    },
    /// Not a whole file, and not the manifest's bytes.
    #[error("truncated or corrupt: its {bytes} bytes are not a whole safetensors file, and not the bytes the manifest's SHA-256 names")]
    Truncated {
        /// The file's size.
        bytes: usize,
    },
    /// Not a safetensors file.
    #[error("not safetensors: {0}")]
    Safetensors(String),
    /// The tensors are not the format's.
    #[error(transparent)]
    Schema(#[from] schema::SchemaError),
    /// The file's step count is not the manifest's.
    #[error("{got} steps, the manifest says {want}")]
    Steps {
        /// The file's.
        got: usize,
        /// The manifest's.
        want: usize,
    },
    /// Nothing to learn from.
    #[error("the manifest lists no episodes")]
    Empty,
    /// An episode being written has a field of the wrong length.
    #[error("episode {episode}: `{field}` has {got} values, expected {want}")]
    Length {
        /// The episode.
        episode: u64,
        /// The field, e.g. `step 3 obs`.
        field: String,
        /// Its length.
        got: usize,
        /// The header's.
        want: usize,
    },
    /// The directory holds a dataset of another team or task.
    #[error("holds a dataset of {found:?}, this one would be {want:?}: choose another directory")]
    OtherHeader {
        /// The header already there.
        found: Box<DatasetHeader>,
        /// The header being written.
        want: Box<DatasetHeader>,
    },
    /// Recorded with another global state than the task's.
    #[error("the global state has {got} values, the task's has {want}")]
    OtherState {
        /// The dataset's.
        got: usize,
        /// The task's.
        want: usize,
    },
    /// Per-agent rewards asked of a dataset without them.
    #[error("offline.reward = \"individual\" needs per-agent rewards (`agent_rewards`), and not every episode has them: use \"team\"")]
    NoAgentRewards,
    /// A replay recording asked of a run that trains from a dataset.
    #[error("the learner trains from a dataset: there are no new episodes to record")]
    NothingToRecord,
    /// An episode number written twice.
    #[error("episode {episode} is already in the dataset")]
    Duplicate {
        /// The episode.
        episode: u64,
    },
    /// Recorded for another team than the actor's.
    #[error(
        "recorded for {n_agents} robots with {obs_dim} observations and {n_actions} actions, the actor is {spec:?}"
    )]
    OtherTeam {
        /// The dataset's robots.
        n_agents: usize,
        /// The dataset's observation length.
        obs_dim: usize,
        /// The dataset's actions.
        n_actions: usize,
        /// The actor's.
        spec: ActorSpec,
    },
}

fn problem(path: &Path) -> impl Fn(DatasetProblem) -> Error + '_ {
    move |problem| Error::Dataset { path: path.to_path_buf(), problem }
}

/// Reads and checks `dir/manifest.json`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let bad = problem(&path);
    let text = fs::read_to_string(&path).map_err(|e| bad(DatasetProblem::Unreadable(e)))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| bad(DatasetProblem::Manifest(e)))?;
    if m.header.format_version != DATASET_VERSION {
        return Err(bad(DatasetProblem::Version { got: m.header.format_version }));
    }
    Ok(m)
}

/// One recorded episode, on the CPU, robot-major and row-major as in the
/// file (`T` steps, `n` robots, `O`, `S`, `A` as in the header).
#[derive(Debug, Clone)]
pub struct RecordedEpisode {
    /// Its manifest entry.
    pub entry: EpisodeEntry,
    /// Global states `[T+1, S]`.
    pub state: Vec<f32>,
    /// Observations `[T+1, n, O]`.
    pub obs: Vec<f32>,
    /// Availability masks `[T+1, n, A]`.
    pub avail: Vec<f32>,
    /// Actions applied `[T, n]`.
    pub actions: Vec<i64>,
    /// The robots' reported probabilities `[T, n, A]` (0 where none).
    pub probs: Vec<f32>,
    /// Team rewards `[T]`.
    pub reward: Vec<f32>,
    /// Each robot's reward `[T, n]`, where the task defines one (for
    /// evaluation: learners do not read it unless told to).
    pub agent_rewards: Option<Vec<f32>>,
    /// 1 where the episode reached a terminal state `[T]`.
    pub terminated: Vec<u8>,
    /// 1 where the time limit cut it `[T]`.
    pub truncated: Vec<u8>,
    /// Where each action came from (`Origin` codes) `[T, n]`.
    pub action_source: Vec<u8>,
    /// Observation sent to answer received, µs (NaN: no answer) `[T, n]`.
    pub answer_us: Vec<f32>,
    /// Seconds since the episode started when each step's actions were applied `[T]`.
    pub time_s: Vec<f64>,
    /// The server-side critic's value of each step, where one ran `[T]`.
    pub critic_value: Option<Vec<f32>>,
    /// Each robot's tracked position (x, y, metres), where the bridge
    /// tracked robots `[T, n, 2]`.
    pub pose: Option<Vec<f32>>,
    /// The file's string metadata.
    pub metadata: HashMap<String, String>,
}

fn element(dtype: Dtype) -> Option<Element> {
    Some(match dtype {
        Dtype::F32 => Element::F32,
        Dtype::F64 => Element::F64,
        Dtype::I64 => Element::I64,
        Dtype::U32 => Element::U32,
        Dtype::U8 => Element::U8,
        _ => return None,
    })
}

/// A dataset directory opened for reading.
#[derive(Debug, Clone)]
pub struct DatasetReader {
    dir: PathBuf,
    manifest: Manifest,
}

impl DatasetReader {
    /// Opens the dataset in `dir` (its manifest is read and checked; the
    /// episode files when read).
    pub fn open(dir: &Path) -> Result<Self> {
        Ok(Self { dir: dir.to_path_buf(), manifest: read_manifest(dir)? })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The header every episode shares.
    pub fn header(&self) -> &DatasetHeader {
        &self.manifest.header
    }

    /// Reads episode `index` of the manifest, checking its hash, its
    /// tensors against the schema and its step count.
    pub fn episode(&self, index: usize) -> Result<RecordedEpisode> {
        let entry = self.manifest.episodes[index].clone();
        let path = self.dir.join(&entry.file);
        let bad = problem(&path);
        let bytes = fs::read(&path).map_err(|e| bad(DatasetProblem::Unreadable(e)))?;
        let got = format!("{:x}", Sha256::digest(&bytes));
        if got != entry.sha256 {
            // Say "truncated" when the bytes are not even a whole file (an
            // interrupted copy), "does not match" when they are.
            if SafeTensors::deserialize(&bytes).is_err() {
                return Err(bad(DatasetProblem::Truncated { bytes: bytes.len() }));
            }
            return Err(bad(DatasetProblem::Hash { got, want: entry.sha256.clone() }));
        }
        let not_safetensors = |e: safetensors::SafeTensorError| bad(DatasetProblem::Safetensors(format!("{e:?}")));
        let st = SafeTensors::deserialize(&bytes).map_err(not_safetensors)?;
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(not_safetensors)?;
        let steps = st.tensor("reward").map(|t| t.shape().first().copied().unwrap_or(0)).map_err(not_safetensors)?;
        if steps != entry.steps {
            return Err(bad(DatasetProblem::Steps { got: steps, want: entry.steps }));
        }
        let mut described = Vec::new();
        for (name, view) in st.tensors() {
            let elem = element(view.dtype())
                .ok_or_else(|| bad(DatasetProblem::Safetensors(format!("`{name}` has type {:?}", view.dtype()))))?;
            described.push((name, elem, view.shape().to_vec()));
        }
        schema::check(self.header(), steps, described.iter().map(|(n, e, s)| (n.as_str(), *e, s.clone())))
            .map_err(|e| bad(e.into()))?;
        // The schema check above makes every lookup below succeed with the
        // right element type.
        let raw = |name: &str| st.tensor(name).map(|t| t.data()).unwrap_or_default();
        let f32s =
            |name: &str| raw(name).chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let i64s = |name: &str| {
            raw(name).chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
        };
        let u8s = |name: &str| raw(name).to_vec();
        let f64s = |name: &str| {
            raw(name).chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()
        };
        Ok(RecordedEpisode {
            state: f32s("state"),
            obs: f32s("obs"),
            avail: f32s("avail"),
            actions: i64s("actions"),
            probs: f32s("probs"),
            reward: f32s("reward"),
            agent_rewards: st.tensor("agent_rewards").is_ok().then(|| f32s("agent_rewards")),
            terminated: u8s("terminated"),
            truncated: u8s("truncated"),
            action_source: u8s("action_source"),
            answer_us: f32s("answer_us"),
            time_s: f64s("time_s"),
            critic_value: st.tensor("critic_value").is_ok().then(|| f32s("critic_value")),
            pose: st.tensor("pose").is_ok().then(|| f32s("pose")),
            metadata: meta.metadata().clone().unwrap_or_default(),
            entry,
        })
    }

    /// Every episode of the manifest.
    pub fn episodes(&self) -> Result<Vec<RecordedEpisode>> {
        (0..self.manifest.episodes.len()).map(|i| self.episode(i)).collect()
    }
}

/// Batches of recorded episodes for an offline learner: every episode of a
/// dataset in memory, `batch_episodes` of them drawn (without replacement
/// within a batch) per batch.
#[derive(Debug)]
pub struct DatasetBatches {
    header: DatasetHeader,
    episodes: Vec<RecordedEpisode>,
    spec: ActorSpec,
    device: tch::Device,
}

impl DatasetBatches {
    /// Loads the dataset in `dir` for an actor of `spec`, refusing one
    /// recorded for another team.
    pub fn load(dir: &Path, spec: ActorSpec, device: tch::Device) -> Result<Self> {
        let reader = DatasetReader::open(dir)?;
        let h = reader.header().clone();
        let manifest = dir.join(MANIFEST_FILE);
        if h.n_agents != spec.n_agents || h.obs_dim != spec.obs_dim || h.n_actions != spec.n_actions {
            let other =
                DatasetProblem::OtherTeam { n_agents: h.n_agents, obs_dim: h.obs_dim, n_actions: h.n_actions, spec };
            return Err(problem(&manifest)(other));
        }
        if reader.manifest().episodes.is_empty() {
            return Err(problem(&manifest)(DatasetProblem::Empty));
        }
        Ok(Self { header: h, episodes: reader.episodes()?, spec, device })
    }

    /// The dataset's header.
    pub fn header(&self) -> &DatasetHeader {
        &self.header
    }

    /// Checks that the dataset was recorded on a task whose global state
    /// has `state_dim` values (critics read it) and warns when its task's
    /// name is not `environment` (a real robot's bridge may name the task
    /// its own way; the dimensions are what must agree).
    pub fn check_task(&self, dir: &Path, environment: &str, state_dim: usize) -> Result<()> {
        if self.header.state_dim != state_dim {
            let other = DatasetProblem::OtherState { got: self.header.state_dim, want: state_dim };
            return Err(problem(&dir.join(MANIFEST_FILE))(other));
        }
        if self.header.environment != environment {
            log::warn!(
                "{}: recorded on `{}`, training evaluates on `{environment}`",
                dir.display(),
                self.header.environment
            );
        }
        Ok(())
    }

    /// Whether every episode holds per-agent rewards.
    pub fn has_agent_rewards(&self) -> bool {
        self.episodes.iter().all(|e| e.agent_rewards.is_some())
    }

    /// Episodes in the dataset.
    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    /// Whether the dataset holds no episode (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    /// `count` episodes drawn with `seed` (all of them, in a random order,
    /// when `count` is at least the dataset's size), as one batch.
    pub fn sample(&self, count: usize, seed: u64) -> EpisodeBatch {
        let mut rng = Pcg64::seed_from_u64(seed);
        let picked = sample(&mut rng, self.episodes.len(), count.min(self.episodes.len()));
        let episodes: Vec<&RecordedEpisode> = picked.iter().map(|i| &self.episodes[i]).collect();
        to_batch(&episodes, &self.header, self.spec, self.device)
    }
}

/// Recorded episodes as one padded batch (layout of [`EpisodeBatch`]): the
/// actor inputs are built from the observations, previous actions and
/// robot ids as the robots built them; hidden states are zeros (learners
/// re-run the actor from each episode's start). The slot after an
/// episode's last step holds its final observation, with action 0 and
/// probabilities 0 (never executed, masked out).
pub fn to_batch(
    episodes: &[&RecordedEpisode],
    header: &DatasetHeader,
    spec: ActorSpec,
    device: tch::Device,
) -> EpisodeBatch {
    let (n, o, s, a, ind) = (header.n_agents, header.obs_dim, header.state_dim, header.n_actions, spec.input_dim());
    let b = episodes.len();
    let t_max = episodes.iter().map(|e| e.entry.steps).max().unwrap_or(0);
    let t1 = t_max + 1;
    let mut inputs = vec![0.0f32; t1 * b * n * ind];
    let mut obs = vec![0.0f32; t1 * b * n * o];
    let mut state = vec![0.0f32; t1 * b * s];
    let mut avail = vec![0.0f32; t1 * b * n * a];
    let mut actions = vec![0i64; t1 * b * n];
    let mut probs = vec![0.0f32; t1 * b * n * a];
    let mut reward = vec![0.0f32; t_max * b];
    // Per-agent rewards only when every episode has them.
    let mut agent_reward = episodes.iter().all(|e| e.agent_rewards.is_some()).then(|| vec![0.0f32; t_max * b * n]);
    let mut terminated = vec![0.0f32; t_max * b];
    let mut mask = vec![0.0f32; t1 * b];
    for (e, ep) in episodes.iter().enumerate() {
        let steps = ep.entry.steps;
        for t in 0..=steps {
            let row = t * b + e;
            state[row * s..(row + 1) * s].copy_from_slice(&ep.state[t * s..(t + 1) * s]);
            obs[row * n * o..(row + 1) * n * o].copy_from_slice(&ep.obs[t * n * o..(t + 1) * n * o]);
            avail[row * n * a..(row + 1) * n * a].copy_from_slice(&ep.avail[t * n * a..(t + 1) * n * a]);
            for i in 0..n {
                let prev = (t > 0).then(|| ep.actions[(t - 1) * n + i] as usize);
                let at = (row * n + i) * ind;
                // The schema fixed every length; the actions were applied,
                // so they are indices below A.
                let x = &ep.obs[(t * n + i) * o..(t * n + i + 1) * o];
                if spec.write_input(x, prev, i, &mut inputs[at..at + ind]).is_err() {
                    log::warn!("episode {}: step {t} robot {i} has an action out of range", ep.entry.episode);
                }
            }
            if t < steps {
                actions[row * n..(row + 1) * n].copy_from_slice(&ep.actions[t * n..(t + 1) * n]);
                probs[row * n * a..(row + 1) * n * a].copy_from_slice(&ep.probs[t * n * a..(t + 1) * n * a]);
                reward[row] = ep.reward[t];
                if let (Some(dst), Some(src)) = (&mut agent_reward, &ep.agent_rewards) {
                    dst[row * n..(row + 1) * n].copy_from_slice(&src[t * n..(t + 1) * n]);
                }
                terminated[row] = f32::from(ep.terminated[t]);
                mask[row] = 1.0;
            }
        }
    }
    let (b, n, t1i) = (b as i64, n as i64, t1 as i64);
    let f = |v: &[f32], shape: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
    EpisodeBatch {
        inputs: f(&inputs, &[t1i, b, n, ind as i64]),
        hidden: Tensor::zeros([t1i, b, n, spec.hidden as i64], (tch::Kind::Float, device)),
        obs: f(&obs, &[t1i, b, n, o as i64]),
        state: f(&state, &[t1i, b, s as i64]),
        avail: f(&avail, &[t1i, b, n, a as i64]),
        actions: Tensor::from_slice(&actions).view([t1i, b, n]).to_device(device),
        probs: f(&probs, &[t1i, b, n, a as i64]),
        reward: f(&reward, &[t1i - 1, b]),
        agent_reward: agent_reward.map(|r| f(&r, &[t1i - 1, b, n])),
        terminated: f(&terminated, &[t1i - 1, b]),
        mask: f(&mask, &[t1i, b]),
        returns: episodes.iter().map(|e| e.reward.iter().map(|&r| f64::from(r)).sum()).collect(),
        wins: Vec::new(),
        lengths: episodes.iter().map(|e| e.entry.steps).collect(),
        first_step: 0,
    }
}
