//! Models deployed to a running swarm, without any transport: building the
//! message a deploy sends, checking one that arrives (hash, format, file,
//! role), and loading it beside the running model on a helper thread so
//! the robot keeps answering meanwhile. The agent's own hot swap (staging,
//! the switch at the next episode start) is [`Agent::stage`]. The Zenoh
//! binding (`swarm`) feeds payloads in; another transport would do the same.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::agent::{Actuator, Agent};
use crate::policy::{NanoPolicy, OnnxPolicy, Policy, PolicyError};
use crate::wire::{ModelFormat, ModelMsg, WireError, WIRE_VERSION};

/// Why a model message cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ModelMessageError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The model file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a model of the declared format.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The message does not encode.
    #[error(transparent)]
    Wire(#[from] WireError),
}

/// The encoded [`ModelMsg`] of the model file `model`, and its SHA-256.
/// Reading the file's spec for the message also checks the file.
pub fn model_message(model: &Path, format: ModelFormat) -> Result<(Vec<u8>, [u8; 32]), ModelMessageError> {
    let bytes = std::fs::read(model).map_err(|source| ModelMessageError::Io { path: model.to_path_buf(), source })?;
    let spec = match format {
        ModelFormat::Onnx => OnnxPolicy::from_bytes(&bytes, &model.display().to_string(), 0)?.spec(),
        ModelFormat::Nano => NanoPolicy::new(&bytes, 0)?.spec(),
    };
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    let msg = ModelMsg { version: WIRE_VERSION, sha256: sha, spec, format, model: &bytes };
    let mut buf = vec![0u8; ModelMsg::max_encoded_len(bytes.len())];
    let payload = msg.encode(&mut buf)?.to_vec();
    Ok((payload, sha))
}

/// Checks a model message for an agent running `format` and loads its
/// policy with `load`: the hash, the format, the file, and that the file's
/// spec is the message's. The error says why in a sentence.
pub fn check_model<P: Policy>(
    payload: &[u8],
    format: ModelFormat,
    load: &dyn Fn(&[u8]) -> Result<P, PolicyError>,
) -> Result<(P, [u8; 32]), String> {
    let msg = ModelMsg::decode(payload).map_err(|e| e.to_string())?;
    let sha: [u8; 32] = Sha256::digest(msg.model).into();
    if sha != msg.sha256 {
        return Err("its SHA-256 does not match the model's bytes".into());
    }
    if msg.format != format {
        return Err(format!("it is a {} model, this agent runs {format}", msg.format));
    }
    let policy = load(msg.model).map_err(|e| e.to_string())?;
    if policy.spec() != msg.spec {
        return Err(format!("the message says {:?}, the file is {:?}", msg.spec, policy.spec()));
    }
    Ok((policy, sha))
}

/// What became of one offered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelOutcome {
    /// Checked, loaded and staged: it takes over at the next episode.
    Staged([u8; 32]),
    /// Refused, with the reason; the running model stays.
    Refused(String),
}

/// A policy loader: the model's bytes to a policy of this agent's role.
pub type Loader<P> = dyn Fn(&[u8]) -> Result<P, PolicyError> + Send + Sync;

/// New models for one agent: each offered payload is checked and loaded on
/// a helper thread; [`poll`](Self::poll) stages what finished.
pub struct ModelUpdates<P> {
    format: ModelFormat,
    load: Arc<Loader<P>>,
    done_tx: Sender<Result<(P, [u8; 32]), String>>,
    done: Receiver<Result<(P, [u8; 32]), String>>,
}

impl<P: Policy + Send + 'static> ModelUpdates<P> {
    /// Updates for an agent running `format` models, loaded by `load`.
    pub fn new(format: ModelFormat, load: impl Fn(&[u8]) -> Result<P, PolicyError> + Send + Sync + 'static) -> Self {
        let (done_tx, done) = channel();
        Self { format, load: Arc::new(load), done_tx, done }
    }

    /// Starts checking `payload` unless it is the model `agent` already
    /// runs or has staged (a model holder repeats the swarm's model to every
    /// agent that comes up). Returns whether a check started.
    pub fn offer<A: Actuator>(&self, payload: Vec<u8>, agent: &Mutex<Agent<P, A>>) -> bool {
        let repeat = ModelMsg::decode(&payload).is_ok_and(|m| lock(agent).has_model(&m.sha256));
        if repeat {
            return false;
        }
        let (load, tx, format) = (Arc::clone(&self.load), self.done_tx.clone(), self.format);
        std::thread::spawn(move || {
            let _ = tx.send(check_model(&payload, format, load.as_ref()));
        });
        true
    }

    /// Stages a model whose check finished, if any.
    pub fn poll<A: Actuator>(&self, agent: &Mutex<Agent<P, A>>) -> Option<ModelOutcome> {
        let result = self.done.try_recv().ok()?;
        Some(match result.and_then(|(p, sha)| lock(agent).stage(p, sha).map(|()| sha).map_err(|e| e.to_string())) {
            Ok(sha) => ModelOutcome::Staged(sha),
            Err(why) => ModelOutcome::Refused(why),
        })
    }
}

/// The agent, even if a panic elsewhere poisoned its lock (its state is
/// updated whole or not at all by each call).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
