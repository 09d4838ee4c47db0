//! The ONNX actor through ONNX Runtime (`ort`, loaded at run time from the
//! library `scripts/setup` installs; nothing is downloaded).
//!
//! One session per agent, one intra-op thread (a robot runs one agent; more
//! threads only add wake-up latency for a network this small).

use std::path::{Path, PathBuf};
use std::ptr::NonNull;
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
    // The bound tensors, owned for the policy's whole life, and their
    // buffers as found once at load (see `Buffer`).
    _tensors: [Tensor<f32>; 5],
    _prev_action_tensor: Tensor<i64>,
    obs: Buffer<f32>,
    prev_action: Buffer<i64>,
    h_in: Buffer<f32>,
    avail: Buffer<f32>,
    probs_out: Buffer<f32>,
    h_out: Buffer<f32>,
    probs: Vec<f32>,
    h: Vec<f32>,
}

/// The data of a tensor bound to the session, located once. ONNX Runtime
/// keeps a tensor's data where it allocated it until the tensor is
/// released, and the policy owns every bound tensor as long as it lives,
/// so a step reads and writes the buffers directly instead of asking ONNX
/// Runtime for each tensor's type, shape and data again (several C calls
/// and two heap allocations per tensor per step).
struct Buffer<T> {
    ptr: NonNull<T>,
    len: usize,
}

impl<T: PrimitiveTensorElementType + std::fmt::Debug> Buffer<T> {
    fn of(tensor: &mut Tensor<T>) -> Result<Self, PolicyError> {
        let (_, data) = tensor.try_extract_tensor_mut::<T>().map_err(|e| PolicyError::Runtime(e.to_string()))?;
        Ok(Self { len: data.len(), ptr: NonNull::from(data).cast() })
    }

    fn get(&self) -> &[T] {
        // SAFETY: the tensor this points into is owned by the same policy
        // and never released or resized before it; ONNX Runtime touches it
        // only inside `run_bound`, which holds `&mut` on the policy.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn get_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `get`; `&mut self` makes this the only borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

// SAFETY: a `Buffer` is a view into a tensor owned by the same policy; it
// moves between threads with it, and shared access only reads.
unsafe impl<T: Send> Send for Buffer<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Buffer<T> {}

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
        let mut obs = tensor(&session, &[1, spec.obs_dim], 0.0f32)?;
        let mut prev_action = tensor(&session, &[1], -1i64)?;
        let mut h_in = tensor(&session, &[1, spec.hidden], 0.0f32)?;
        let mut avail = tensor(&session, &[1, spec.n_actions], 1.0f32)?;
        let mut probs_out = tensor(&session, &[1, spec.n_actions], 0.0f32)?;
        let mut h_out = tensor(&session, &[1, spec.hidden], 0.0f32)?;
        let mut binding = session.create_binding().map_err(ort_err)?;
        binding.bind_input("obs", &obs).map_err(ort_err)?;
        binding.bind_input("prev_action", &prev_action).map_err(ort_err)?;
        binding.bind_input("agent_id", &agent).map_err(ort_err)?;
        binding.bind_input("h_in", &h_in).map_err(ort_err)?;
        binding.bind_input("avail", &avail).map_err(ort_err)?;
        binding.bind_output("probs", &mut probs_out).map_err(ort_err)?;
        binding.bind_output("h_out", &mut h_out).map_err(ort_err)?;
        let mut policy = Self {
            binding,
            obs: Buffer::of(&mut obs)?,
            prev_action: Buffer::of(&mut prev_action)?,
            h_in: Buffer::of(&mut h_in)?,
            avail: Buffer::of(&mut avail)?,
            probs_out: Buffer::of(&mut probs_out)?,
            h_out: Buffer::of(&mut h_out)?,
            _tensors: [obs, h_in, avail, probs_out, h_out],
            _prev_action_tensor: prev_action,
            probs: vec![0.0; spec.n_actions],
            h: vec![0.0; spec.hidden],
            spec,
            session,
        };
        // One warm-up run so the first real step pays no lazy initialisation.
        policy.run()?;
        policy.reset();
        Ok(policy)
    }

    /// Runs the session on the bound inputs; copies `probs` and the new
    /// hidden state out and feeds the hidden state back as the next input.
    fn run(&mut self) -> Result<(), PolicyError> {
        self.run_bound()?;
        self.probs.copy_from_slice(self.probs_out.get());
        self.h.copy_from_slice(self.h_out.get());
        self.h_in.get_mut().copy_from_slice(&self.h);
        Ok(())
    }
}

impl Policy for OnnxPolicy {
    fn spec(&self) -> ActorSpec {
        self.spec
    }

    fn reset(&mut self) {
        self.h.fill(0.0);
        self.h_in.get_mut().fill(0.0);
        self.prev_action.get_mut().fill(-1);
    }

    fn step(&mut self, obs: &[f32], avail: &[f32]) -> Result<Decision<'_>, PolicyError> {
        check_inputs(&self.spec, obs, avail)?;
        self.obs.get_mut().copy_from_slice(obs);
        for (dst, src) in self.avail.get_mut().iter_mut().zip(avail) {
            *dst = if *src > 0.0 { 1.0 } else { 0.0 };
        }
        if let Err(e) = self.run() {
            // Leave the recurrent state as it was before this step.
            self.h_in.get_mut().copy_from_slice(&self.h);
            return Err(e);
        }
        let action = greedy(&self.probs);
        self.prev_action.get_mut().fill(action as i64);
        Ok(Decision { action, probs: &self.probs })
    }

    fn hidden(&self) -> &[f32] {
        &self.h
    }
}
