//! Checkpoints: the actor and the learner's networks as safetensors, with a
//! JSON sidecar (format version, actor spec, progress, SHA-256 of every
//! file). A checkpoint is a directory `checkpoints/step_<env_steps>/`, built
//! under a temporary name and renamed into place, so a killed run never
//! leaves a half-written one; `checkpoints/latest` names the newest.
//!
//! ```text
//! checkpoints/step_000100000/actor.safetensors   the shared GRU actor
//! checkpoints/step_000100000/critic.safetensors  learner stores, one file each
//! checkpoints/step_000100000/training_state.safetensors
//!                       optimiser moments, counters, search states (runs)
//! checkpoints/step_000100000/checkpoint.json     the sidecar
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use murmur_runtime::ActorSpec;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::nn;

use crate::actor::{Actor, ActorOptions};
use crate::critic::target::{LEGACY_TARGET_CHECKPOINTS, TARGET_CHECKPOINT};
use crate::fsio;
use crate::state::{TrainingState, STATE_FILE};
use crate::CheckpointProblem;
use crate::{Error, Result};

/// Version of the checkpoint layout this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The JSON sidecar of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// [`FORMAT_VERSION`] at writing.
    pub format_version: u32,
    /// Learner name.
    pub learner: String,
    /// Environment name.
    pub environment: String,
    /// The actor's dimensions.
    pub spec: ActorSpec,
    /// The actor's architecture switches.
    pub actor_options: ActorOptions,
    /// Environment steps trained.
    pub env_steps: u64,
    /// Episodes trained.
    pub episodes: u64,
    /// Learner updates made.
    pub updates: u64,
    /// SHA-256 (hex) of each file of the checkpoint, by file name.
    pub sha256: BTreeMap<String, String>,
}

impl CheckpointMeta {
    /// The sidecar of an actor that has not trained (learner `untrained`):
    /// for exporting or running a network before any training, in tests,
    /// benchmarks and demos. [`save`] fills in the version and hashes.
    pub fn untrained(spec: ActorSpec, actor_options: ActorOptions, environment: &str) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            learner: "untrained".into(),
            environment: environment.into(),
            spec,
            actor_options,
            env_steps: 0,
            episodes: 0,
            updates: 0,
            sha256: BTreeMap::new(),
        }
    }
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(Error::io(path))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Directory name of the checkpoint at `env_steps`.
pub fn dir_name(env_steps: u64) -> String {
    format!("step_{env_steps:09}")
}

/// Writes a checkpoint of networks only into `root` (the run's
/// `checkpoints/` directory); `meta.sha256` is filled in here. Returns the
/// checkpoint's directory.
pub fn save(
    root: &Path,
    actor: &nn::VarStore,
    learner: &[(&str, &nn::VarStore)],
    meta: CheckpointMeta,
) -> Result<PathBuf> {
    write(root, actor, learner, None, meta)
}

/// Writes a checkpoint a run can resume from: the networks and the
/// training `state` (as [`STATE_FILE`]).
pub fn save_resumable(
    root: &Path,
    actor: &nn::VarStore,
    learner: &[(&str, &nn::VarStore)],
    state: &TrainingState,
    meta: CheckpointMeta,
) -> Result<PathBuf> {
    write(root, actor, learner, Some(state), meta)
}

fn write(
    root: &Path,
    actor: &nn::VarStore,
    learner: &[(&str, &nn::VarStore)],
    state: Option<&TrainingState>,
    mut meta: CheckpointMeta,
) -> Result<PathBuf> {
    fs::create_dir_all(root).map_err(Error::io(root))?;
    let final_dir = root.join(dir_name(meta.env_steps));
    let tmp = root.join(format!(".tmp-{}-{}", dir_name(meta.env_steps), std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(Error::io(&tmp))?;
    let mut stores = vec![("actor", actor)];
    stores.extend(learner.iter().map(|(n, s)| (*n, *s)));
    for (name, store) in stores {
        let file = format!("{name}.safetensors");
        let path = tmp.join(&file);
        store.save(&path).map_err(|e| Error::checkpoint(&path, CheckpointProblem::Tensors(e)))?;
        fsio::sync_file(&path)?;
        meta.sha256.insert(file, sha256_file(&path)?);
    }
    if let Some(state) = state {
        let path = tmp.join(STATE_FILE);
        state.save(&path)?;
        fsio::sync_file(&path)?;
        meta.sha256.insert(STATE_FILE.to_string(), sha256_file(&path)?);
    }
    meta.format_version = FORMAT_VERSION;
    let json = serde_json::to_vec_pretty(&meta).expect("checkpoint metadata serialises");
    fsio::write_atomic(&tmp.join("checkpoint.json"), &json)?;
    if final_dir.exists() {
        fs::remove_dir_all(&final_dir).map_err(Error::io(&final_dir))?;
    }
    fsio::commit(&tmp, &final_dir)?;
    fsio::write_atomic(&root.join("latest"), dir_name(meta.env_steps).as_bytes())?;
    Ok(final_dir)
}

/// The newest checkpoint directory under `root`, if any.
pub fn latest(root: &Path) -> Result<Option<PathBuf>> {
    let marker = root.join("latest");
    match fs::read_to_string(&marker) {
        Ok(name) => Ok(Some(root.join(name.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(marker)(e)),
    }
}

/// Reads and checks a checkpoint's sidecar, verifying every file's hash.
pub fn read_meta(dir: &Path) -> Result<CheckpointMeta> {
    let path = dir.join("checkpoint.json");
    let bad = |problem| Error::checkpoint(&path, problem);
    let text = fs::read_to_string(&path).map_err(|e| bad(CheckpointProblem::Unreadable(e)))?;
    let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|e| bad(CheckpointProblem::Sidecar(e)))?;
    if meta.format_version != FORMAT_VERSION {
        return Err(bad(CheckpointProblem::Version { got: meta.format_version, reads: FORMAT_VERSION }));
    }
    for (file, want) in &meta.sha256 {
        let got = sha256_file(&dir.join(file))?;
        if &got != want {
            return Err(Error::checkpoint(dir.join(file), CheckpointProblem::Hash { got, want: want.clone() }));
        }
    }
    Ok(meta)
}

/// The file of store `name` in checkpoint `dir`: `<name>.safetensors`, or,
/// for a target network of a checkpoint written before target networks
/// shared one name, the file under its older name.
pub fn store_path(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.safetensors"));
    if name == TARGET_CHECKPOINT && !path.exists() {
        for legacy in LEGACY_TARGET_CHECKPOINTS {
            let old = dir.join(format!("{legacy}.safetensors"));
            if old.exists() {
                return old;
            }
        }
    }
    path
}

/// Loads `file` into `store`, requiring exactly the same tensor names and
/// shapes (a clear error instead of libtorch's on a mismatch).
pub fn load_store(file: &Path, store: &mut nn::VarStore) -> Result<()> {
    let bad = |problem| Error::checkpoint(file, problem);
    let saved: BTreeMap<String, tch::Tensor> =
        tch::Tensor::read_safetensors(file).map_err(|e| bad(CheckpointProblem::Tensors(e)))?.into_iter().collect();
    // Sorted, so the first mismatch reported is the same every run.
    let mut vars: BTreeMap<String, tch::Tensor> = store.variables().into_iter().collect();
    for (name, var) in &vars {
        let src = saved.get(name).ok_or_else(|| bad(CheckpointProblem::MissingTensor(name.clone())))?;
        if src.size() != var.size() {
            return Err(bad(CheckpointProblem::Shape { name: name.clone(), got: src.size(), want: var.size() }));
        }
    }
    if let Some(extra) = saved.keys().find(|k| !vars.contains_key(*k)) {
        return Err(bad(CheckpointProblem::UnexpectedTensor(extra.clone())));
    }
    tch::no_grad(|| {
        for (name, var) in vars.iter_mut() {
            var.copy_(&saved[name].to_device(var.device()).to_kind(var.kind()));
        }
    });
    Ok(())
}

/// A run's checkpoint: `checkpoint` if given (a checkpoint directory, or
/// one relative to the run's `checkpoints/`), else the run's latest.
pub fn resolve(run: &Path, checkpoint: Option<&Path>) -> Result<PathBuf> {
    let root = run.join("checkpoints");
    match checkpoint {
        Some(c) if c.join("checkpoint.json").exists() => Ok(c.to_path_buf()),
        Some(c) if root.join(c).join("checkpoint.json").exists() => Ok(root.join(c)),
        Some(c) => {
            let why = format!("no checkpoint.json here or under {}", root.display());
            Err(Error::checkpoint(c, CheckpointProblem::NotACheckpoint(why)))
        }
        None => latest(&root)?.ok_or_else(|| Error::checkpoint(&root, CheckpointProblem::NoneYet)),
    }
}

/// The actor of the checkpoint in `dir`, on the CPU: its var store, the
/// network and the verified sidecar.
pub fn load_actor(dir: &Path) -> Result<(nn::VarStore, Actor, CheckpointMeta)> {
    let meta = read_meta(dir)?;
    meta.spec.validate().map_err(|e| Error::checkpoint(dir.join("checkpoint.json"), e.into()))?;
    let mut vs = nn::VarStore::new(tch::Device::Cpu);
    let actor = Actor::new(&vs.root(), meta.spec, meta.actor_options);
    load_store(&dir.join("actor.safetensors"), &mut vs)?;
    Ok((vs, actor, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CheckpointMeta {
        CheckpointMeta {
            format_version: 0,
            learner: "mappo".into(),
            environment: "spread".into(),
            spec: ActorSpec { obs_dim: 2, n_actions: 3, n_agents: 2, hidden: 4 },
            actor_options: ActorOptions {
                input_layer_norm: false,
                orthogonal_init: false,
                head_layer: false,
                observation_only: false,
            },
            env_steps: 1200,
            episodes: 48,
            updates: 3,
            sha256: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trips_and_rejects_corruption_and_shape_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().randn_standard("w", &[2, 3]);
        let critic = nn::VarStore::new(tch::Device::Cpu);
        let _ = critic.root().zeros("v", &[5]);
        let ckpt = save(dir.path(), &vs, &[("critic", &critic)], meta()).unwrap();
        assert_eq!(latest(dir.path()).unwrap(), Some(ckpt.clone()));
        let m = read_meta(&ckpt).unwrap();
        assert_eq!((m.env_steps, m.format_version, m.sha256.len()), (1200, FORMAT_VERSION, 2));

        let mut other = nn::VarStore::new(tch::Device::Cpu);
        let w2 = other.root().zeros("w", &[2, 3]);
        load_store(&ckpt.join("actor.safetensors"), &mut other).unwrap();
        assert!(w2.equal(&w));

        let mut wrong = nn::VarStore::new(tch::Device::Cpu);
        let _ = wrong.root().zeros("w", &[3, 3]);
        let err = load_store(&ckpt.join("actor.safetensors"), &mut wrong).unwrap_err().to_string();
        assert!(err.contains("tensor `w` has shape [2, 3]") && err.contains("expects [3, 3]"), "{err}");

        fs::write(ckpt.join("critic.safetensors"), b"garbage").unwrap();
        let err = read_meta(&ckpt).unwrap_err().to_string();
        assert!(err.contains("critic.safetensors") && err.contains("does not match"), "{err}");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}"); // the checkpoint and `latest`
    }
}
