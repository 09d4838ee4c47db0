//! The ONNX actor through ONNX Runtime (`ort`, loaded at run time from the
//! library `scripts/setup` installs; nothing is downloaded).
//!
//! One session per agent, one intra-op thread (a robot runs one agent; more
//! threads only add wake-up latency for a network this small).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::{PrimitiveTensorElementType, Tensor};
use ort::AsPointer;

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
///
/// Inputs and outputs are ONNX Runtime tensors allocated once and bound to
/// the session (`IoBinding`); a step writes the observation and mask into
/// the bound input buffers, runs, and reads the bound outputs: no heap
/// allocation on the Rust side after warm-up.
pub struct OnnxPolicy {
    session: Session,
    binding: IoBinding,
    spec: ActorSpec,
    obs: Tensor<f32>,
    prev_action: Tensor<i64>,
    h_in: Tensor<f32>,
    avail: Tensor<f32>,
    probs_out: Tensor<f32>,
    h_out: Tensor<f32>,
    probs: Vec<f32>,
    h: Vec<f32>,
}

impl OnnxPolicy {
    /// ONNX Runtime's `RunWithBinding` on the bound tensors. `ort`'s
    /// `Session::run_binding` wraps each output in a fresh `Arc` and
    /// collects names and values into vectors (four allocations a step);
    /// the outputs are already our own bound tensors, so the call alone
    /// does the work.
    fn run_bound(&mut self) -> Result<(), PolicyError> {
        let api = ort::api();
        // SAFETY: both pointers come from wrappers `self` owns and keeps
        // alive, as it does every tensor bound to the binding; `&mut self`
        // gives the exclusive use of the session that RunWithBinding needs.
        let status =
            unsafe { (api.RunWithBinding)(self.session.ptr().cast_mut(), std::ptr::null(), self.binding.ptr()) };
        if status.0.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null status is a live OrtStatus we own until released.
        let msg = unsafe {
            let msg = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0)).to_string_lossy().into_owned();
            (api.ReleaseStatus)(status.0);
            msg
        };
        Err(PolicyError::Runtime(msg))
    }
}

/// A tensor of `shape` from the session's CPU allocator, filled with `value`.
fn tensor<T: PrimitiveTensorElementType + Copy + std::fmt::Debug>(
    session: &Session,
    shape: &[usize],
    value: T,
) -> Result<Tensor<T>, PolicyError> {
    let err = |e: ort::Error| PolicyError::Runtime(e.to_string());
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let mut t = Tensor::<T>::new(session.allocator(), dims).map_err(err)?;
    t.try_extract_tensor_mut::<T>().map_err(err)?.1.fill(value);
    Ok(t)
}

/// A session builder: full graph optimisation, one intra-op thread, and
/// the file's symbolic `batch` dimension fixed to 1 (one robot, one agent),
/// so ONNX Runtime plans every shape and buffer once instead of each run.
fn builder() -> Result<ort::session::builder::SessionBuilder, PolicyError> {
    Session::builder(onnx_runtime(None)?)
        .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(Into::into))
        .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
        .and_then(|b| b.with_dimension_override("batch", 1).map_err(Into::into))
        .map_err(|e| PolicyError::Runtime(e.to_string()))
}

impl OnnxPolicy {
    /// Loads the actor file `model` for agent `agent_id`, with ONNX Runtime
    /// from [`onnx_runtime`]`(None)`. The dimensions come from the file's
    /// metadata.
    pub fn load(model: &Path, agent_id: usize) -> Result<Self, PolicyError> {
        let session = builder()?
            .commit_from_file(model)
            .map_err(|e| PolicyError::Model { path: model.display().to_string(), msg: e.to_string() })?;
        Self::from_session(session, model, agent_id)
    }

    /// Like [`load`](Self::load) from the file's bytes (e.g. a model that
    /// arrived over the network); `name` stands for the file in errors.
    pub fn from_bytes(model: &[u8], name: &str, agent_id: usize) -> Result<Self, PolicyError> {
        let session = builder()?
            .commit_from_memory(model)
            .map_err(|e| PolicyError::Model { path: name.to_string(), msg: e.to_string() })?;
        Self::from_session(session, Path::new(name), agent_id)
    }

    fn from_session(session: Session, model: &Path, agent_id: usize) -> Result<Self, PolicyError> {
        let bad = |msg: String| PolicyError::Model { path: model.display().to_string(), msg };
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
        let ort_err = |e: ort::Error| PolicyError::Runtime(e.to_string());
        let agent = tensor(&session, &[1], agent_id as i64)?;
        let mut policy = Self {
            binding: session.create_binding().map_err(ort_err)?,
            obs: tensor(&session, &[1, spec.obs_dim], 0.0f32)?,
            prev_action: tensor(&session, &[1], -1i64)?,
            h_in: tensor(&session, &[1, spec.hidden], 0.0f32)?,
            avail: tensor(&session, &[1, spec.n_actions], 1.0f32)?,
            probs_out: tensor(&session, &[1, spec.n_actions], 0.0f32)?,
            h_out: tensor(&session, &[1, spec.hidden], 0.0f32)?,
            probs: vec![0.0; spec.n_actions],
            h: vec![0.0; spec.hidden],
            spec,
            session,
        };
        let b = &mut policy.binding;
        b.bind_input("obs", &policy.obs).map_err(ort_err)?;
        b.bind_input("prev_action", &policy.prev_action).map_err(ort_err)?;
        b.bind_input("agent_id", &agent).map_err(ort_err)?;
        b.bind_input("h_in", &policy.h_in).map_err(ort_err)?;
        b.bind_input("avail", &policy.avail).map_err(ort_err)?;
        b.bind_output("probs", &mut policy.probs_out).map_err(ort_err)?;
        b.bind_output("h_out", &mut policy.h_out).map_err(ort_err)?;
        // One warm-up run so the first real step pays no lazy initialisation.
        policy.run()?;
        policy.reset();
        Ok(policy)
    }

    /// Runs the session on the bound inputs; copies `probs` and the new
    /// hidden state out and feeds the hidden state back as the next input.
    fn run(&mut self) -> Result<(), PolicyError> {
        let err = |e: ort::Error| PolicyError::Runtime(e.to_string());
        self.run_bound()?;
        self.probs.copy_from_slice(self.probs_out.try_extract_tensor::<f32>().map_err(err)?.1);
        self.h.copy_from_slice(self.h_out.try_extract_tensor::<f32>().map_err(err)?.1);
        self.h_in.try_extract_tensor_mut::<f32>().map_err(err)?.1.copy_from_slice(&self.h);
        Ok(())
    }
}

impl Policy for OnnxPolicy {
    fn spec(&self) -> ActorSpec {
        self.spec
    }

    fn reset(&mut self) {
        self.h.fill(0.0);
        let _ = self.h_in.try_extract_tensor_mut::<f32>().map(|(_, h)| h.fill(0.0));
        let _ = self.prev_action.try_extract_tensor_mut::<i64>().map(|(_, p)| p.fill(-1));
    }

    fn step(&mut self, obs: &[f32], avail: &[f32]) -> Result<Decision<'_>, PolicyError> {
        check_inputs(&self.spec, obs, avail)?;
        let err = |e: ort::Error| PolicyError::Runtime(e.to_string());
        self.obs.try_extract_tensor_mut::<f32>().map_err(err)?.1.copy_from_slice(obs);
        for (dst, src) in self.avail.try_extract_tensor_mut::<f32>().map_err(err)?.1.iter_mut().zip(avail) {
            *dst = if *src > 0.0 { 1.0 } else { 0.0 };
        }
        if let Err(e) = self.run() {
            // Leave the recurrent state as it was before this step.
            let _ = self.h_in.try_extract_tensor_mut::<f32>().map(|(_, h)| h.copy_from_slice(&self.h));
            return Err(e);
        }
        let action = greedy(&self.probs);
        self.prev_action.try_extract_tensor_mut::<i64>().map_err(err)?.1.fill(action as i64);
        Ok(Decision { action, probs: &self.probs })
    }

    fn hidden(&self) -> &[f32] {
        &self.h
    }
}
