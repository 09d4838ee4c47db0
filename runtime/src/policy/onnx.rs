//! The ONNX actor through ONNX Runtime (`ort`, loaded at run time from the
//! library `scripts/setup` installs; nothing is downloaded).
//!
//! One session per agent, one intra-op thread (a robot runs one agent; more
//! threads only add wake-up latency for a network this small). Inputs live
//! in buffers allocated once at load; each step copies the new observation
//! and mask in, runs, and copies `probs` and `h_out` out.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ndarray::{Array1, Array2};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::{check_inputs, greedy, Decision, Policy, PolicyError};
use crate::spec::{ActorSpec, SpecError};

/// Where the ONNX Runtime library is: `library` if given, else the
/// `ORT_DYLIB_PATH` environment variable, else the library the build was
/// pointed at (`.cargo/config.toml` names the one `scripts/setup` installs).
fn library_path(library: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = library {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return Ok(PathBuf::from(p));
    }
    match option_env!("ORT_DYLIB_PATH").map(PathBuf::from) {
        Some(p) if p.exists() => Ok(p),
        _ => Err("cannot find the ONNX Runtime library: set ORT_DYLIB_PATH to libonnxruntime.so \
                  (scripts/setup installs it as .venv/libonnxruntime.so)"
            .into()),
    }
}

/// The process's ONNX Runtime environment, loaded once from
/// `library` (see `library_path` for the fallbacks). Later calls return the
/// first result.
pub fn onnx_runtime(library: Option<&Path>) -> Result<&'static Environment, PolicyError> {
    static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let path = library_path(library)?;
        let builder = ort::init_from(&path).map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        builder.with_name("murmur").build().map_err(|e| format!("cannot create the environment: {e}"))
    });
    env.as_ref().map_err(|e| PolicyError::Runtime(e.clone()))
}

/// Reads `murmur.<key>` from the model's metadata as a number.
fn metadata_dim(session: &Session, path: &Path, key: &str) -> Result<usize, PolicyError> {
    let bad = |msg: String| PolicyError::Model { path: path.display().to_string(), msg };
    let meta = session.metadata().map_err(|e| bad(format!("no metadata: {e}")))?;
    let full = format!("murmur.{key}");
    let text = meta.custom(&full).ok_or_else(|| bad(format!("metadata has no `{full}` (not a murmur actor?)")))?;
    text.parse().map_err(|_| bad(format!("metadata `{full}` is `{text}`, expected a whole number")))
}

/// An exported actor run by ONNX Runtime for one agent.
pub struct OnnxPolicy {
    session: Session,
    spec: ActorSpec,
    obs: Array2<f32>,
    prev_action: Array1<i64>,
    agent_id: Array1<i64>,
    h: Array2<f32>,
    avail: Array2<f32>,
    probs: Vec<f32>,
}

impl OnnxPolicy {
    /// Loads the actor file `model` for agent `agent_id`, with ONNX Runtime
    /// from [`onnx_runtime`]`(None)`. The dimensions come from the file's
    /// metadata.
    pub fn load(model: &Path, agent_id: usize) -> Result<Self, PolicyError> {
        let env = onnx_runtime(None)?;
        let bad = |msg: String| PolicyError::Model { path: model.display().to_string(), msg };
        let session = Session::builder(env)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(Into::into))
            .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
            .map_err(|e| PolicyError::Runtime(e.to_string()))?
            .commit_from_file(model)
            .map_err(|e| bad(e.to_string()))?;
        let spec = ActorSpec {
            obs_dim: metadata_dim(&session, model, "obs_dim")?,
            n_actions: metadata_dim(&session, model, "n_actions")?,
            n_agents: metadata_dim(&session, model, "n_agents")?,
            hidden: metadata_dim(&session, model, "hidden")?,
        };
        spec.validate().map_err(|e| bad(e.to_string()))?;
        if agent_id >= spec.n_agents {
            return Err(SpecError::OutOfRange { what: "agent_id", got: agent_id, bound: spec.n_agents }.into());
        }
        // One warm-up run so the first real step pays no lazy initialisation.
        let mut policy = Self {
            obs: Array2::zeros((1, spec.obs_dim)),
            prev_action: Array1::from_elem(1, -1),
            agent_id: Array1::from_elem(1, agent_id as i64),
            h: Array2::zeros((1, spec.hidden)),
            avail: Array2::ones((1, spec.n_actions)),
            probs: vec![0.0; spec.n_actions],
            spec,
            session,
        };
        policy.run()?;
        policy.reset();
        Ok(policy)
    }

    /// Runs the session on the input buffers; writes `probs` and the new
    /// hidden state.
    fn run(&mut self) -> Result<(), PolicyError> {
        let err = |e: ort::Error| PolicyError::Runtime(e.to_string());
        let inputs = ort::inputs![
            "obs" => TensorRef::from_array_view(&self.obs).map_err(err)?,
            "prev_action" => TensorRef::from_array_view(&self.prev_action).map_err(err)?,
            "agent_id" => TensorRef::from_array_view(&self.agent_id).map_err(err)?,
            "h_in" => TensorRef::from_array_view(&self.h).map_err(err)?,
            "avail" => TensorRef::from_array_view(&self.avail).map_err(err)?,
        ];
        let outputs = self.session.run(inputs).map_err(err)?;
        let (_, probs) = outputs["probs"].try_extract_tensor::<f32>().map_err(err)?;
        let (_, h_out) = outputs["h_out"].try_extract_tensor::<f32>().map_err(err)?;
        if probs.len() != self.probs.len() || h_out.len() != self.spec.hidden {
            return Err(PolicyError::Runtime(format!(
                "outputs have {} probabilities and {} hidden values, expected {} and {}",
                probs.len(),
                h_out.len(),
                self.probs.len(),
                self.spec.hidden
            )));
        }
        self.probs.copy_from_slice(probs);
        if let Some(h) = self.h.as_slice_mut() {
            h.copy_from_slice(h_out);
        }
        Ok(())
    }
}

impl Policy for OnnxPolicy {
    fn spec(&self) -> ActorSpec {
        self.spec
    }

    fn reset(&mut self) {
        self.h.fill(0.0);
        self.prev_action[0] = -1;
    }

    fn step(&mut self, obs: &[f32], avail: &[f32]) -> Result<Decision<'_>, PolicyError> {
        check_inputs(&self.spec, obs, avail)?;
        let saved = self.h.clone();
        for (dst, src) in self.obs.iter_mut().zip(obs) {
            *dst = *src;
        }
        for (dst, src) in self.avail.iter_mut().zip(avail) {
            *dst = if *src > 0.0 { 1.0 } else { 0.0 };
        }
        if let Err(e) = self.run() {
            self.h = saved;
            return Err(e);
        }
        let action = greedy(&self.probs);
        self.prev_action[0] = action as i64;
        Ok(Decision { action, probs: &self.probs })
    }

    fn hidden(&self) -> &[f32] {
        self.h.as_slice().unwrap_or(&[])
    }
}
