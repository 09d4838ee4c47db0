//! Writing an episode dataset (docs/dataset.md): one safetensors file per
//! episode, written atomically, and a JSON manifest with every file's
//! SHA-256. `murmur hil --record`, `murmur collect` and a training run's
//! replay recording all write through [`DatasetWriter`].
//!
//! ```text
//! <dir>/manifest.json                 dataset header + one entry per episode
//! <dir>/episode_000001.safetensors    the tensors of episode 1
//! ```
//!
//! An episode file is written beside its final name, fsynced and renamed;
//! then the manifest is rewritten the same way. A writer killed between the
//! two leaves a complete episode file the manifest does not list yet:
//! [`DatasetWriter::open`] adopts it (after checking that it parses), so
//! nothing recorded is lost, and a killed write leaves only a temporary
//! file that every reader ignores.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use sha2::{Digest, Sha256};

use super::reader::{read_manifest, DatasetProblem};
use super::schema::{
    self, episode_file, DatasetHeader, DatasetSource, Element, EpisodeEntry, Manifest, DATASET_VERSION, MANIFEST_FILE,
};
use crate::{fsio, Error, Result};

/// Everything recorded at one step, as the coordinator saw it. Lengths:
/// `state` = state_dim, `obs` = n·obs_dim, `avail` = n·A, per-robot
/// vectors = n, `probs` = n·A (zeros where the robot sent none).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepRecord {
    /// Global state before the step.
    pub state: Vec<f32>,
    /// Observations sent, robot-major.
    pub obs: Vec<f32>,
    /// Availability masks sent, robot-major.
    pub avail: Vec<f32>,
    /// Actions applied.
    pub actions: Vec<i64>,
    /// Probabilities the robots reported.
    pub probs: Vec<f32>,
    /// Where each action came from ([`Origin`] as u8).
    pub origin: Vec<u8>,
    /// Each robot's reported inference time, microseconds (0 when none).
    pub inference_us: Vec<u32>,
    /// Observation sent to answer received, microseconds (NaN: no answer).
    pub answer_us: Vec<f32>,
    /// 1 where the robot missed this step's deadline.
    pub deadline_miss: Vec<u8>,
    /// Team reward.
    pub reward: f32,
    /// Each robot's own reward, when the task defines one.
    pub agent_rewards: Option<Vec<f32>>,
    /// The episode ended in a terminal state.
    pub terminated: bool,
    /// The episode was cut by its time limit.
    pub truncated: bool,
    /// Observations published to last answer (or deadline), microseconds.
    pub step_us: f32,
    /// Seconds since the episode started, when the actions were applied.
    pub time_s: f64,
    /// The server-side critic's value of this step, when one runs.
    pub critic_value: Option<f32>,
    /// The critic's per-robot advantage, when its learner has one.
    pub critic_advantage: Option<Vec<f32>>,
    /// Each robot's tracked position (x, y, metres) when the observations
    /// were built, where the bridge tracks robots (`[n, 2]`).
    pub pose: Option<Vec<f32>>,
}

/// One episode being recorded, column by column.
#[derive(Debug, Clone)]
pub struct EpisodeRecord {
    /// Episode number.
    pub episode: u64,
    /// Environment seed of the episode.
    pub seed: u64,
    /// `None` while complete; the first reason it is not.
    pub incomplete_reason: Option<String>,
    /// Free-form string metadata stored in the file (e.g. model hashes).
    pub metadata: Vec<(String, String)>,
    steps: Vec<StepRecord>,
    final_state: Vec<f32>,
    final_obs: Vec<f32>,
    final_avail: Vec<f32>,
}

impl EpisodeRecord {
    /// An empty record of episode `episode` (environment seed `seed`).
    pub fn new(episode: u64, seed: u64) -> Self {
        Self {
            episode,
            seed,
            incomplete_reason: None,
            metadata: Vec::new(),
            steps: Vec::new(),
            final_state: Vec::new(),
            final_obs: Vec::new(),
            final_avail: Vec::new(),
        }
    }

    /// Appends a step.
    pub fn push(&mut self, step: StepRecord) {
        self.steps.push(step);
    }

    /// The steps so far.
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// Sets the state, observations and masks after the last step.
    pub fn finish(&mut self, state: Vec<f32>, obs: Vec<f32>, avail: Vec<f32>) {
        self.final_state = state;
        self.final_obs = obs;
        self.final_avail = avail;
    }

    /// Sets string metadata `key` unless it is set already.
    pub fn metadata_once(&mut self, key: String, value: String) {
        if !self.metadata.iter().any(|(k, _)| *k == key) {
            self.metadata.push((key, value));
        }
    }

    /// Flags the episode incomplete (the first reason is kept).
    pub fn mark_incomplete(&mut self, reason: impl Into<String>) {
        self.incomplete_reason.get_or_insert_with(|| reason.into());
    }

    /// Sum of the team rewards.
    pub fn episode_return(&self) -> f64 {
        self.steps.iter().map(|s| f64::from(s.reward)).sum()
    }

    /// The episode as safetensors bytes, checked against `header`.
    pub fn to_safetensors(&self, header: &DatasetHeader) -> std::result::Result<Vec<u8>, DatasetProblem> {
        let (n, t) = (header.n_agents, self.steps.len());
        let episode = self.episode;
        let lens = |field: &str, got: usize, want: usize| {
            if got == want {
                Ok(())
            } else {
                Err(DatasetProblem::Length { episode, field: field.to_string(), got, want })
            }
        };
        for (k, s) in self.steps.iter().enumerate() {
            let at = |f: &str| format!("step {k} {f}");
            lens(&at("state"), s.state.len(), header.state_dim)?;
            lens(&at("obs"), s.obs.len(), n * header.obs_dim)?;
            lens(&at("avail"), s.avail.len(), n * header.n_actions)?;
            lens(&at("probs"), s.probs.len(), n * header.n_actions)?;
            for (f, l) in [
                ("actions", s.actions.len()),
                ("action_source", s.origin.len()),
                ("inference_us", s.inference_us.len()),
                ("answer_us", s.answer_us.len()),
                ("deadline_miss", s.deadline_miss.len()),
            ] {
                lens(&at(f), l, n)?;
            }
        }
        lens("final state", self.final_state.len(), header.state_dim)?;
        lens("final obs", self.final_obs.len(), n * header.obs_dim)?;
        lens("final avail", self.final_avail.len(), n * header.n_actions)?;

        let cat_f32 = |f: &dyn Fn(&StepRecord) -> &[f32], last: &[f32]| -> Vec<u8> {
            let mut v: Vec<f32> = self.steps.iter().flat_map(|s| f(s).iter().copied()).collect();
            v.extend_from_slice(last);
            bytemuck::cast_slice(&v).to_vec()
        };
        use Element::{F32, F64, I64, U32, U8};
        let mut columns: Vec<(&str, Element, Vec<usize>, Vec<u8>)> = vec![
            ("state", F32, vec![t + 1, header.state_dim], cat_f32(&|s| &s.state, &self.final_state)),
            ("obs", F32, vec![t + 1, n, header.obs_dim], cat_f32(&|s| &s.obs, &self.final_obs)),
            ("avail", F32, vec![t + 1, n, header.n_actions], cat_f32(&|s| &s.avail, &self.final_avail)),
            ("actions", I64, vec![t, n], column(&self.steps, |s| s.actions.clone())),
            ("probs", F32, vec![t, n, header.n_actions], column(&self.steps, |s| s.probs.clone())),
            ("action_source", U8, vec![t, n], column(&self.steps, |s| s.origin.clone())),
            ("inference_us", U32, vec![t, n], column(&self.steps, |s| s.inference_us.clone())),
            ("answer_us", F32, vec![t, n], column(&self.steps, |s| s.answer_us.clone())),
            ("deadline_miss", U8, vec![t, n], column(&self.steps, |s| s.deadline_miss.clone())),
            ("reward", F32, vec![t], column(&self.steps, |s| vec![s.reward])),
            ("terminated", U8, vec![t], column(&self.steps, |s| vec![u8::from(s.terminated)])),
            ("truncated", U8, vec![t], column(&self.steps, |s| vec![u8::from(s.truncated)])),
            ("step_us", F32, vec![t], column(&self.steps, |s| vec![s.step_us])),
            ("time_s", F64, vec![t], column(&self.steps, |s| vec![s.time_s])),
        ];
        // Optional columns: present only when every step has them.
        if t > 0 && self.steps.iter().all(|s| s.agent_rewards.as_ref().is_some_and(|r| r.len() == n)) {
            let v = column(&self.steps, |s| s.agent_rewards.clone().unwrap_or_default());
            columns.push(("agent_rewards", F32, vec![t, n], v));
        }
        if t > 0 && self.steps.iter().all(|s| s.pose.as_ref().is_some_and(|p| p.len() == 2 * n)) {
            let v = column(&self.steps, |s| s.pose.clone().unwrap_or_default());
            columns.push(("pose", F32, vec![t, n, 2], v));
        }
        if t > 0 && self.steps.iter().all(|s| s.critic_value.is_some()) {
            let v = column(&self.steps, |s| s.critic_value.into_iter().collect());
            columns.push(("critic_value", F32, vec![t], v));
        }
        if t > 0 && self.steps.iter().all(|s| s.critic_advantage.as_ref().is_some_and(|a| a.len() == n)) {
            let v = column(&self.steps, |s| s.critic_advantage.clone().unwrap_or_default());
            columns.push(("critic_advantage", F32, vec![t, n], v));
        }
        schema::check(header, t, columns.iter().map(|(name, element, shape, _)| (*name, *element, shape.clone())))?;
        let views = columns
            .iter()
            .map(|(name, element, shape, data)| {
                TensorView::new(dtype(*element), shape.clone(), data)
                    .map(|v| (*name, v))
                    .map_err(|e| DatasetProblem::Safetensors(format!("{name}: {e:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut meta: HashMap<String, String> = self.metadata.iter().cloned().collect();
        meta.insert("format_version".into(), DATASET_VERSION.to_string());
        meta.insert("episode".into(), self.episode.to_string());
        meta.insert("seed".into(), self.seed.to_string());
        meta.insert("environment".into(), header.environment.clone());
        meta.insert("complete".into(), self.incomplete_reason.is_none().to_string());
        if let Some(r) = &self.incomplete_reason {
            meta.insert("incomplete_reason".into(), r.clone());
        }
        safetensors::tensor::serialize(views, &Some(meta))
            .map_err(|e| DatasetProblem::Safetensors(format!("cannot serialise: {e:?}")))
    }
}

/// safetensors' type of a schema element type.
fn dtype(element: Element) -> Dtype {
    match element {
        Element::F32 => Dtype::F32,
        Element::F64 => Dtype::F64,
        Element::I64 => Dtype::I64,
        Element::U32 => Dtype::U32,
        Element::U8 => Dtype::U8,
    }
}

/// The bytes of one per-step field, concatenated over steps.
fn column<T: bytemuck::Pod>(steps: &[StepRecord], f: impl Fn(&StepRecord) -> Vec<T>) -> Vec<u8> {
    let v: Vec<T> = steps.iter().flat_map(f).collect();
    bytemuck::cast_slice(&v).to_vec()
}

/// A dataset directory being written.
#[derive(Debug)]
pub struct DatasetWriter {
    dir: PathBuf,
    manifest: Manifest,
}

impl DatasetWriter {
    /// Opens `dir` for writing episodes of `header`: creates it, or
    /// continues the dataset there when its header is the same (adopting
    /// complete episode files a killed writer did not list yet). `source`
    /// says where the episodes come from; a continued dataset keeps the
    /// source it has unless it had none.
    pub fn open(dir: &Path, header: DatasetHeader, source: Option<DatasetSource>) -> Result<Self> {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let path = dir.join(MANIFEST_FILE);
        let mut manifest = if path.exists() {
            let m = read_manifest(dir)?;
            if m.header != header {
                let problem = DatasetProblem::OtherHeader { found: Box::new(m.header), want: Box::new(header) };
                return Err(Error::Dataset { path, problem });
            }
            m
        } else {
            Manifest { header, source: None, summary: Default::default(), episodes: Vec::new() }
        };
        if manifest.source.is_none() {
            manifest.source = source;
        }
        let adopted = adopt_orphans(dir, &mut manifest)?;
        let mut writer = Self { dir: dir.to_path_buf(), manifest };
        if adopted > 0 || !path.exists() {
            if adopted > 0 {
                log::warn!("{}: adopted {adopted} episode file(s) the manifest did not list", dir.display());
            }
            writer.write_manifest()?;
        }
        Ok(writer)
    }

    /// The dataset's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest as written so far.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The next unused episode number.
    pub fn next_episode(&self) -> u64 {
        self.manifest.episodes.iter().map(|e| e.episode + 1).max().unwrap_or(1)
    }

    /// Writes `record` (atomically), then the manifest; returns its entry.
    pub fn write(&mut self, record: &EpisodeRecord) -> Result<EpisodeEntry> {
        let file = episode_file(record.episode);
        let path = self.dir.join(&file);
        if self.manifest.episodes.iter().any(|e| e.episode == record.episode) {
            return Err(Error::Dataset { path, problem: DatasetProblem::Duplicate { episode: record.episode } });
        }
        let bytes = record
            .to_safetensors(&self.manifest.header)
            .map_err(|problem| Error::Dataset { path: path.clone(), problem })?;
        fsio::write_atomic(&path, &bytes)?;
        let entry = EpisodeEntry {
            episode: record.episode,
            file,
            steps: record.steps.len(),
            episode_return: record.episode_return(),
            complete: record.incomplete_reason.is_none(),
            incomplete_reason: record.incomplete_reason.clone(),
            sha256: format!("{:x}", Sha256::digest(&bytes)),
        };
        self.manifest.episodes.push(entry.clone());
        self.write_manifest()?;
        Ok(entry)
    }

    fn write_manifest(&mut self) -> Result<()> {
        self.manifest.summary = schema::DatasetSummary::of(&self.manifest.episodes);
        let json = serde_json::to_vec_pretty(&self.manifest).expect("a manifest always serialises");
        fsio::write_atomic(&self.dir.join(MANIFEST_FILE), &json)
    }
}

/// Adds to `manifest` every `episode_*.safetensors` in `dir` it does not
/// list and that parses; returns how many.
fn adopt_orphans(dir: &Path, manifest: &mut Manifest) -> Result<usize> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(Error::io(dir))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("episode_") && n.ends_with(".safetensors"))
        .filter(|n| !manifest.episodes.iter().any(|e| &e.file == n))
        .collect();
    names.sort();
    let mut adopted = 0;
    for name in names {
        let path = dir.join(&name);
        let bytes = fs::read(&path).map_err(Error::io(&path))?;
        match orphan_entry(&name, &bytes) {
            Some(entry) if !manifest.episodes.iter().any(|e| e.episode == entry.episode) => {
                manifest.episodes.push(entry);
                adopted += 1;
            }
            _ => log::warn!("{}: not a readable episode file; left out of the manifest", path.display()),
        }
    }
    manifest.episodes.sort_by_key(|e| e.episode);
    Ok(adopted)
}

fn orphan_entry(name: &str, bytes: &[u8]) -> Option<EpisodeEntry> {
    let (_, meta) = SafeTensors::read_metadata(bytes).ok()?;
    let st = SafeTensors::deserialize(bytes).ok()?;
    let info = meta.metadata().as_ref()?;
    let reward = st.tensor("reward").ok()?;
    let rewards: Vec<f32> =
        reward.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Some(EpisodeEntry {
        episode: info.get("episode")?.parse().ok()?,
        file: name.to_string(),
        steps: rewards.len(),
        episode_return: rewards.iter().map(|&r| f64::from(r)).sum(),
        complete: info.get("complete")? == "true",
        incomplete_reason: info.get("incomplete_reason").cloned(),
        sha256: format!("{:x}", Sha256::digest(bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{DatasetReader, Origin};

    fn header() -> DatasetHeader {
        DatasetHeader {
            format_version: DATASET_VERSION,
            environment: "spread".into(),
            n_agents: 2,
            obs_dim: 3,
            state_dim: 4,
            n_actions: 2,
            safe_action: 0,
        }
    }

    fn step(k: usize) -> StepRecord {
        let x = k as f32;
        StepRecord {
            state: vec![x, x + 0.5, -x, 1.0],
            obs: (0..6).map(|i| x + i as f32 * 0.1).collect(),
            avail: vec![1.0, 1.0, 1.0, 0.0],
            actions: vec![1, 0],
            probs: vec![0.3, 0.7, 1.0, 0.0],
            origin: vec![Origin::Policy as u8, Origin::Missed as u8],
            inference_us: vec![12, 0],
            answer_us: vec![150.0, f32::NAN],
            deadline_miss: vec![0, 1],
            reward: -1.5 * x,
            agent_rewards: Some(vec![-x, -0.5 * x]),
            terminated: false,
            truncated: k == 2,
            step_us: 300.0,
            time_s: 0.01 * f64::from(x),
            critic_value: Some(-3.0 + x),
            critic_advantage: None,
            pose: Some(vec![x, -x, 0.5 * x, 2.0]),
        }
    }

    fn episode(id: u64, steps: usize) -> EpisodeRecord {
        let mut r = EpisodeRecord::new(id, 77);
        for k in 0..steps {
            r.push(step(k));
        }
        r.finish(vec![9.0; 4], vec![8.0; 6], vec![1.0; 4]);
        r
    }

    fn f32s(st: &SafeTensors, name: &str) -> Vec<f32> {
        st.tensor(name).unwrap().data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    }

    #[test]
    fn episodes_round_trip_with_shapes_values_and_metadata() {
        let bytes = episode(3, 3).to_safetensors(&header()).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("state").unwrap().shape(), [4, 4]);
        assert_eq!(st.tensor("obs").unwrap().shape(), [4, 2, 3]);
        assert_eq!(st.tensor("actions").unwrap().shape(), [3, 2]);
        assert_eq!(f32s(&st, "reward"), [0.0, -1.5, -3.0]);
        assert_eq!(f32s(&st, "agent_rewards"), [0.0, 0.0, -1.0, -0.5, -2.0, -1.0]);
        assert_eq!(f32s(&st, "critic_value"), [-3.0, -2.0, -1.0]);
        assert_eq!(&f32s(&st, "state")[12..], [9.0; 4], "the final state closes the column");
        assert_eq!(st.tensor("truncated").unwrap().data(), [0, 0, 1]);
        assert_eq!(st.tensor("action_source").unwrap().data(), [0, 3, 0, 3, 0, 3]);
        assert!(st.tensor("critic_advantage").is_err(), "no advantage was recorded");
        assert_eq!(st.tensor("pose").unwrap().shape(), [3, 2, 2], "poses, per step and robot");
        assert_eq!(f32s(&st, "pose")[4..8], [1.0, -1.0, 0.5, 2.0]);
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let meta = meta.metadata().clone().unwrap();
        assert_eq!((meta["episode"].as_str(), meta["complete"].as_str(), meta["seed"].as_str()), ("3", "true", "77"));
    }

    #[test]
    fn wrong_lengths_are_named() {
        let mut r = episode(1, 2);
        r.steps[1].obs.pop();
        let err = r.to_safetensors(&header()).unwrap_err().to_string();
        assert!(err.contains("step 1 obs") && err.contains("5 values, expected 6"), "{err}");
    }

    #[test]
    fn a_dataset_lists_checksums_continues_and_adopts_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let mut ds = DatasetWriter::open(dir.path(), header(), None).unwrap();
        assert_eq!(ds.next_episode(), 1);
        let e1 = ds.write(&episode(1, 3)).unwrap();
        let mut inc = episode(2, 1);
        inc.mark_incomplete("agent 1 left at step 0");
        inc.mark_incomplete("later reason");
        ds.write(&inc).unwrap();
        assert_eq!(e1.episode_return, -4.5);
        assert!(ds.write(&episode(2, 1)).is_err(), "episode numbers are unique");
        let m = DatasetReader::open(dir.path()).and_then(|r| r.episodes().map(|_| r.manifest().clone())).unwrap();
        assert_eq!(m.episodes.len(), 2);
        assert_eq!(m.episodes[1].incomplete_reason.as_deref(), Some("agent 1 left at step 0"));

        // A recorder killed after writing episode 3 but before the manifest.
        let bytes = episode(3, 2).to_safetensors(&header()).unwrap();
        fs::write(dir.path().join(episode_file(3)), &bytes).unwrap();
        fs::write(dir.path().join(".episode_000004.safetensors.tmp-1"), &bytes[..10]).unwrap();
        fs::write(dir.path().join(episode_file(5)), b"half a file").unwrap();
        let ds = DatasetWriter::open(dir.path(), header(), None).unwrap();
        assert_eq!(ds.manifest().episodes.iter().map(|e| e.episode).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(ds.next_episode(), 4);
        DatasetReader::open(dir.path()).and_then(|r| r.episodes()).unwrap();

        let other = DatasetHeader { n_agents: 3, ..header() };
        let err = DatasetWriter::open(dir.path(), other, None).unwrap_err().to_string();
        assert!(err.contains("manifest.json") && err.contains("another directory"), "{err}");

        let read_all = || DatasetReader::open(dir.path()).and_then(|r| r.episodes().map(|_| ()));
        let first = dir.path().join(episode_file(1));
        let mut bytes = fs::read(&first).unwrap();
        *bytes.last_mut().unwrap() ^= 1; // still a whole file, other bytes
        fs::write(&first, &bytes).unwrap();
        let err = read_all().unwrap_err().to_string();
        assert!(err.contains("episode_000001") && err.contains("does not match"), "{err}");
        fs::write(&first, b"tampered").unwrap();
        let err = read_all().unwrap_err().to_string();
        assert!(err.contains("episode_000001") && err.contains("truncated or corrupt"), "{err}");
    }
}
