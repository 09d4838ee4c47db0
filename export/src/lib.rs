//! murmur-export: turns a trained actor checkpoint into an ONNX file any
//! runtime can run, then proves the file computes what the trained network
//! computes.
//!
//! ```no_run
//! # fn main() -> Result<(), murmur_export::ExportError> {
//! use std::path::Path;
//! let checkpoint = murmur_export::resolve_checkpoint(Path::new("runs/mappo_spread"), None)?;
//! let report = murmur_export::export_onnx(&checkpoint, Path::new("actor.onnx"), Default::default())?;
//! println!("{} bytes, max error {:.1e}", report.bytes, report.verification.max_prob_error);
//! # Ok(()) }
//! ```
//!
//! The file is written beside its destination under a temporary name,
//! verified there ([`verify`]) and only then renamed into place: a failed
//! export leaves no output file and never replaces a good one.
#![warn(missing_docs)]

pub mod graph;
pub mod nano;
pub mod proto;
pub mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

use murmur_train::checkpoint::{self, CheckpointMeta};
use murmur_train::fsio;
use murmur_train::learner::registry::ActorOutputs;
use prost::Message;
use tch::nn;

pub use graph::{ActorWeights, Param};
pub use murmur_runtime::ActorSpec;
pub use nano::nano_blob;
pub use verify::{Verification, VerifySettings};

/// Version of the metadata layout in exported files (`murmur.format_version`).
pub const FORMAT_VERSION: u32 = 1;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The run or checkpoint cannot be read.
    #[error(transparent)]
    Checkpoint(#[from] murmur_train::Error),
    /// The checkpoint lacks a weight the actor needs.
    #[error("checkpoint {path}: no tensor `{name}` in actor.safetensors")]
    MissingWeight {
        /// The checkpoint directory.
        path: PathBuf,
        /// The missing tensor.
        name: String,
    },
    /// The exported file could not be run.
    #[error(transparent)]
    Policy(#[from] murmur_runtime::PolicyError),
    /// The exported file computes something else than the trained actor.
    #[error("verification failed: {0}")]
    Mismatch(String),
    /// libtorch failed while reading weights.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Writing the output failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// What an export produced and measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    /// The file written.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The verification's figures.
    pub verification: Verification,
    /// Seconds to build, write and verify.
    pub seconds: f64,
    /// The source checkpoint's sidecar.
    pub meta: CheckpointMeta,
}

/// The checkpoint to export: `checkpoint` if given (a checkpoint directory,
/// or one relative to the run's `checkpoints/`), else the run's latest.
pub fn resolve_checkpoint(run: &Path, checkpoint: Option<&Path>) -> Result<PathBuf, ExportError> {
    Ok(checkpoint::resolve(run, checkpoint)?)
}

/// The actor's weights out of its var store, in PyTorch's layout.
pub fn actor_weights(vs: &nn::VarStore, spec: ActorSpec, dir: &Path) -> Result<ActorWeights, ExportError> {
    let vars = vs.variables();
    let get = |name: &str| -> Result<Param, ExportError> {
        let t = vars
            .get(name)
            .ok_or_else(|| ExportError::MissingWeight { path: dir.to_path_buf(), name: name.to_string() })?;
        Ok(Param { dims: t.size(), values: Vec::<f32>::try_from(t.to_kind(tch::Kind::Float).contiguous().view([-1]))? })
    };
    let input_norm = if vars.contains_key("input_norm.weight") {
        Some((get("input_norm.weight")?, get("input_norm.bias")?))
    } else {
        None
    };
    Ok(ActorWeights {
        spec,
        input_norm,
        fc1: (get("fc1.weight")?, get("fc1.bias")?),
        gru: [get("gru.weight_ih")?, get("gru.weight_hh")?, get("gru.bias_ih")?, get("gru.bias_hh")?],
        head: if vars.contains_key("head.weight") { Some((get("head.weight")?, get("head.bias")?)) } else { None },
        fc2: (get("fc2.weight")?, get("fc2.bias")?),
    })
}

/// The metadata properties of an exported file.
pub fn metadata(meta: &CheckpointMeta) -> Vec<(String, String)> {
    let s = meta.spec;
    let outputs = murmur_train::learner::registry::find(&meta.learner).map_or(ActorOutputs::Logits, |k| k.outputs);
    [
        ("format_version", FORMAT_VERSION.to_string()),
        ("algorithm", meta.learner.clone()),
        ("environment", meta.environment.clone()),
        ("obs_dim", s.obs_dim.to_string()),
        ("n_actions", s.n_actions.to_string()),
        ("n_agents", s.n_agents.to_string()),
        ("hidden", s.hidden.to_string()),
        ("input_layer_norm", meta.actor_options.input_layer_norm.to_string()),
        ("head_layer", meta.actor_options.head_layer.to_string()),
        ("checkpoint_sha256", meta.sha256.get("actor.safetensors").cloned().unwrap_or_default()),
        ("env_steps", meta.env_steps.to_string()),
        ("outputs", outputs.name().to_string()),
        ("policy", outputs.policy().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("murmur.{k}"), v))
    .collect()
}

/// Which file to write: the ONNX actor (`docs/onnx.md`) or the nano blob
/// for the `no_std` policy (`docs/nano.md`).
pub use murmur_runtime::ModelFormat;

/// Exports the actor of `checkpoint` to the ONNX file `out`, verified with
/// `settings` before it is moved into place.
pub fn export_onnx(checkpoint: &Path, out: &Path, settings: VerifySettings) -> Result<ExportReport, ExportError> {
    export(checkpoint, out, ModelFormat::Onnx, settings)
}

/// Exports the actor of `checkpoint` as a nano blob `out`, verified through
/// the runtime's `NanoPolicy` before it is moved into place.
pub fn export_nano(checkpoint: &Path, out: &Path, settings: VerifySettings) -> Result<ExportReport, ExportError> {
    export(checkpoint, out, ModelFormat::Nano, settings)
}

/// Exports the actor of `checkpoint` in `format` to `out`: written beside
/// it, verified with `settings`, then renamed into place.
pub fn export(
    checkpoint: &Path,
    out: &Path,
    format: ModelFormat,
    settings: VerifySettings,
) -> Result<ExportReport, ExportError> {
    let started = Instant::now();
    let (vs, actor, meta) = checkpoint::load_actor(checkpoint)?;
    let weights = actor_weights(&vs, meta.spec, checkpoint)?;
    let bytes = match format {
        ModelFormat::Onnx => graph::actor_model(&weights, &metadata(&meta)).encode_to_vec(),
        ModelFormat::Nano => nano::nano_blob(&weights),
    };
    let tmp = fsio::temp_beside(out);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExportError::Io { path, source }
    };
    std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
    let verified = match format {
        ModelFormat::Onnx => verify::verify(&actor, &tmp, settings),
        // What is on disk is what gets verified.
        ModelFormat::Nano => {
            std::fs::read(&tmp).map_err(io(&tmp)).and_then(|on_disk| verify::verify_nano(&actor, &on_disk, settings))
        }
    };
    let verification = match verified {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    fsio::sync_file(&tmp)?;
    std::fs::rename(&tmp, out).map_err(io(out))?;
    Ok(ExportReport {
        path: out.to_path_buf(),
        bytes: bytes.len() as u64,
        verification,
        seconds: started.elapsed().as_secs_f64(),
        meta,
    })
}
