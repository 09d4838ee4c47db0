//! Models deployed to a running swarm, without any transport: building the
//! message a deploy sends (signed with the operator's key, see
//! [`crate::model_signing`]), checking one that arrives (signer, signature,
//! issue order, hash, format, file, role), and loading it beside the
//! running model on a helper thread so the robot keeps answering
//! meanwhile. The agent's own hot swap (staging,
//! the switch at the next episode start) is [`Agent::stage`]. The Zenoh
//! binding (`swarm`) feeds payloads in; another transport would do the same.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::agent::{Actuator, Agent};
use crate::model_signing::{ModelSigner, ModelTrust};
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

/// The encoded [`ModelMsg`] of the model file `model` for swarm `swarm`,
/// issued at `issued` (microseconds since the Unix epoch) and signed by
/// `signer` when given; and its SHA-256. Reading the file's spec for the
/// message also checks the file.
pub fn model_message(
    model: &Path,
    format: ModelFormat,
    swarm: &str,
    issued: u64,
    signer: Option<&ModelSigner>,
) -> Result<(Vec<u8>, [u8; 32]), ModelMessageError> {
    let bytes = std::fs::read(model).map_err(|source| ModelMessageError::Io { path: model.to_path_buf(), source })?;
    let spec = match format {
        ModelFormat::Onnx => OnnxPolicy::from_bytes(&bytes, &model.display().to_string(), 0)?.spec(),
        ModelFormat::Nano => NanoPolicy::new(&bytes, 0)?.spec(),
    };
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    let signature = signer.map(|k| k.sign(swarm, issued, &sha, format, &spec));
    let msg = ModelMsg {
        version: WIRE_VERSION,
        sha256: sha,
        spec,
        format,
        issued,
        signer: signer.map_or([0; 32], ModelSigner::public),
        signature: signature.as_ref().map_or(&[][..], |s| &s[..]),
        model: &bytes,
    };
    let mut buf = vec![0u8; ModelMsg::max_encoded_len(bytes.len())];
    let payload = msg.encode(&mut buf)?.to_vec();
    Ok((payload, sha))
}

/// A model that passed its checks.
pub struct CheckedModel<P> {
    /// Its policy, loaded.
    pub policy: P,
    /// Its SHA-256.
    pub sha256: [u8; 32],
    /// When it was issued (see [`ModelMsg::issued`]).
    pub issued: u64,
}

/// Checks a model message for an agent running `format` and loads its
/// policy with `load`: with `trust`, that a trusted key signed it for this
/// swarm; then the hash, the format, the file, and that the file's spec is
/// the message's. The error says why in a sentence.
pub fn check_model<P: Policy>(
    payload: &[u8],
    format: ModelFormat,
    trust: Option<&ModelTrust>,
    load: &dyn Fn(&[u8]) -> Result<P, PolicyError>,
) -> Result<CheckedModel<P>, String> {
    let msg = ModelMsg::decode(payload).map_err(|e| e.to_string())?;
    if let Some(trust) = trust {
        trust.verify(&msg).map_err(|e| e.to_string())?;
    }
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
    Ok(CheckedModel { policy, sha256: sha, issued: msg.issued })
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
    trust: Option<Arc<ModelTrust>>,
    load: Arc<Loader<P>>,
    done_tx: Sender<Result<CheckedModel<P>, String>>,
    done: Receiver<Result<CheckedModel<P>, String>>,
    /// Issue time of the newest model staged (0: the file the agent was
    /// started with).
    newest: Mutex<u64>,
}

impl<P: Policy + Send + 'static> ModelUpdates<P> {
    /// Updates for an agent running `format` models, loaded by `load`; with
    /// `trust`, only models signed by a trusted key, each issued later than
    /// the last one staged.
    pub fn new(
        format: ModelFormat,
        trust: Option<ModelTrust>,
        load: impl Fn(&[u8]) -> Result<P, PolicyError> + Send + Sync + 'static,
    ) -> Self {
        let (done_tx, done) = channel();
        Self { format, trust: trust.map(Arc::new), load: Arc::new(load), done_tx, done, newest: Mutex::new(0) }
    }

    /// Starts checking `payload` unless it is the model `agent` already
    /// runs or has staged (a model holder repeats the swarm's model to every
    /// agent that comes up). Returns whether a check started.
    pub fn offer<A: Actuator>(&self, payload: Vec<u8>, agent: &Mutex<Agent<P, A>>) -> bool {
        let repeat = ModelMsg::decode(&payload).is_ok_and(|m| lock(agent).has_model(&m.sha256));
        if repeat {
            return false;
        }
        let (load, tx, format, trust) = (Arc::clone(&self.load), self.done_tx.clone(), self.format, self.trust.clone());
        std::thread::spawn(move || {
            let _ = tx.send(check_model(&payload, format, trust.as_deref(), load.as_ref()));
        });
        true
    }

    /// Stages a model whose check finished, if any.
    pub fn poll<A: Actuator>(&self, agent: &Mutex<Agent<P, A>>) -> Option<ModelOutcome> {
        let result = self.done.try_recv().ok()?;
        Some(match result.and_then(|m| self.stage(m, agent)) {
            Ok(sha) => ModelOutcome::Staged(sha),
            Err(why) => ModelOutcome::Refused(why),
        })
    }

    fn stage<A: Actuator>(&self, model: CheckedModel<P>, agent: &Mutex<Agent<P, A>>) -> Result<[u8; 32], String> {
        let mut newest = lock(&self.newest);
        if self.trust.is_some() && model.issued <= *newest {
            return Err(format!(
                "it was issued at {} us, not after the newest model this agent took ({} us): a replayed older model",
                model.issued, *newest
            ));
        }
        lock(agent).stage(model.policy, model.sha256).map_err(|e| e.to_string())?;
        *newest = model.issued;
        Ok(model.sha256)
    }
}

/// The agent, even if a panic elsewhere poisoned its lock (its state is
/// updated whole or not at all by each call).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentConfig, NoActuator};
    use crate::policy::nano::testing::random_blob;
    use crate::spec::ActorSpec;
    use std::time::Duration;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 4, n_actions: 3, n_agents: 2, hidden: 8 };

    fn signed(signer: &ModelSigner, blob: &[u8], issued: u64) -> Vec<u8> {
        let sha: [u8; 32] = Sha256::digest(blob).into();
        let sig = signer.sign("lab", issued, &sha, ModelFormat::Nano, &SPEC);
        let msg = ModelMsg {
            version: WIRE_VERSION,
            sha256: sha,
            spec: SPEC,
            format: ModelFormat::Nano,
            issued,
            signer: signer.public(),
            signature: &sig,
            model: blob,
        };
        msg.encode(&mut vec![0u8; ModelMsg::max_encoded_len(blob.len())]).unwrap().to_vec()
    }

    fn outcome(
        updates: &ModelUpdates<NanoPolicy<'static>>,
        agent: &Mutex<Agent<NanoPolicy<'static>, NoActuator>>,
    ) -> ModelOutcome {
        let start = std::time::Instant::now();
        loop {
            if let Some(o) = updates.poll(agent) {
                return o;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no outcome");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_trusting_agent_stages_signed_models_in_issue_order_only() {
        let operator = ModelSigner::from_seed([1; 32]);
        let leak = |b: Vec<u8>| -> &'static [u8] { Box::leak(b.into_boxed_slice()) };
        let running = leak(random_blob(&SPEC, 1));
        let cfg = AgentConfig { safe_action: 0, stale_after: Duration::from_millis(100) };
        let agent = Mutex::new(Agent::new(NanoPolicy::new(running, 0).unwrap(), NoActuator, cfg, [0; 32]).unwrap());
        let trust = ModelTrust::from_keys("lab", &[operator.public()]);
        let updates =
            ModelUpdates::new(ModelFormat::Nano, Some(trust), move |b: &[u8]| NanoPolicy::new(leak(b.to_vec()), 0));
        let (a, b, c) = (random_blob(&SPEC, 2), random_blob(&SPEC, 3), random_blob(&SPEC, 4));

        assert!(updates.offer(signed(&operator, &a, 20), &agent));
        assert_eq!(outcome(&updates, &agent), ModelOutcome::Staged(Sha256::digest(&a).into()));
        // Older than the one taken: a replay.
        assert!(updates.offer(signed(&operator, &b, 10), &agent));
        assert!(
            matches!(outcome(&updates, &agent), ModelOutcome::Refused(why) if why.contains("replayed older model"))
        );
        // Unsigned, even if newer and well-formed.
        let mut unsigned = signed(&operator, &c, 30);
        let msg = ModelMsg::decode(&unsigned).unwrap();
        let bare = ModelMsg { signature: &[], signer: [0; 32], ..msg };
        unsigned = bare.encode(&mut vec![0u8; ModelMsg::max_encoded_len(c.len())]).unwrap().to_vec();
        assert!(updates.offer(unsigned, &agent));
        assert!(matches!(outcome(&updates, &agent), ModelOutcome::Refused(why) if why.contains("not signed")));
        // A bit flipped in the model's bytes after signing (hash recomputed
        // by the attacker): the signature no longer matches.
        let mut tampered_blob = c.clone();
        tampered_blob[100] ^= 1;
        let sha: [u8; 32] = Sha256::digest(&tampered_blob).into();
        let mut tampered = signed(&operator, &c, 30);
        let msg = ModelMsg::decode(&tampered).unwrap();
        let sig = msg.signature.to_vec();
        let forged = ModelMsg { sha256: sha, model: &tampered_blob, signature: &sig, ..msg };
        tampered = forged.encode(&mut vec![0u8; ModelMsg::max_encoded_len(c.len())]).unwrap().to_vec();
        assert!(updates.offer(tampered, &agent));
        assert!(
            matches!(outcome(&updates, &agent), ModelOutcome::Refused(why) if why.contains("signature does not match"))
        );
        // A newer signed model is taken; the staged one stays the newest.
        assert!(updates.offer(signed(&operator, &c, 30), &agent));
        assert_eq!(outcome(&updates, &agent), ModelOutcome::Staged(Sha256::digest(&c).into()));
        assert_eq!(lock(&agent).staged_sha256(), Some(Sha256::digest(&c).into()));
    }
}
