//! The swarm agent over Zenoh (`murmur agent`): one robot's [`Agent`] wired
//! to its key expressions.
//!
//! ```text
//! murmur/<swarm>/agent/<id>/obs   subscribed: ObservationMsg from the coordinator
//! murmur/<swarm>/agent/<id>/act   published:  ActionMsg (express, blocking congestion control)
//! murmur/<swarm>/agent/<id>       liveliness token while the agent runs
//! ```
//!
//! Without a config file Zenoh runs in peer mode with its defaults (no
//! router needed); a JSON5 file (`--zenoh-config`) switches to routers, TLS
//! and access control. When the link to the coordinator drops, Zenoh
//! reconnects by itself; meanwhile no observation arrives and the agent
//! sends the safe action, flagged stale.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zenoh::qos::CongestionControl;
use zenoh::Wait;

use crate::agent::{Agent, AgentConfig, AgentError, ErrorCounts, NoActuator};
use crate::policy::{NanoPolicy, OnnxPolicy, Policy, PolicyError};
use crate::wire::{ActionMsg, MAX_MESSAGE_BYTES};

/// Which policy implementation runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An ONNX file through ONNX Runtime.
    Onnx,
    /// A nano blob through the pure-Rust policy.
    Nano,
}

/// Everything `murmur agent` needs.
#[derive(Debug, Clone)]
pub struct SwarmAgentOptions {
    /// The exported actor (ONNX file or nano blob).
    pub model: PathBuf,
    /// How to run it.
    pub backend: Backend,
    /// The swarm's name (the second level of every key).
    pub swarm: String,
    /// This robot's agent index.
    pub id: usize,
    /// A Zenoh JSON5 config file; Zenoh's defaults (peer mode) without.
    pub zenoh_config: Option<PathBuf>,
    /// The failsafes.
    pub failsafe: AgentConfig,
}

/// What a finished run counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunSummary {
    /// Observations answered by the policy or a fallback.
    pub observations: u64,
    /// Errors by kind.
    pub errors: ErrorCounts,
}

/// Why the agent could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The model cannot be read or run.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The settings do not fit the model.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Zenoh failed (config, session, declarations).
    #[error("zenoh: {0}")]
    Zenoh(String),
}

fn zenoh_err(what: &str) -> impl Fn(zenoh::Error) -> SwarmError + '_ {
    move |e| SwarmError::Zenoh(format!("{what}: {e}"))
}

/// The key expressions of agent `id` in `swarm`: (observations, actions,
/// liveliness token).
pub fn keys(swarm: &str, id: usize) -> (String, String, String) {
    let base = format!("murmur/{swarm}/agent/{id}");
    (format!("{base}/obs"), format!("{base}/act"), base)
}

/// The Zenoh config: the file's if given, else Zenoh's defaults.
pub fn zenoh_config(path: Option<&Path>) -> Result<zenoh::Config, SwarmError> {
    match path {
        Some(p) => zenoh::Config::from_file(p).map_err(|e| SwarmError::Zenoh(format!("config {}: {e}", p.display()))),
        None => Ok(zenoh::Config::default()),
    }
}

/// Runs the agent until `stop` is set: loads the model, opens the Zenoh
/// session, declares the liveliness token and answers observations.
pub fn run(options: &SwarmAgentOptions, stop: &AtomicBool) -> Result<RunSummary, SwarmError> {
    let bytes =
        std::fs::read(&options.model).map_err(|source| SwarmError::Io { path: options.model.clone(), source })?;
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    let session = zenoh::open(zenoh_config(options.zenoh_config.as_deref())?).wait().map_err(zenoh_err("open"))?;
    let result = match options.backend {
        Backend::Onnx => serve(OnnxPolicy::load(&options.model, options.id)?, sha, options, &session, stop),
        Backend::Nano => serve(NanoPolicy::new(&bytes, options.id)?, sha, options, &session, stop),
    };
    let _ = session.close().wait();
    result
}

fn serve<P: Policy>(
    policy: P,
    sha: [u8; 32],
    options: &SwarmAgentOptions,
    session: &zenoh::Session,
    stop: &AtomicBool,
) -> Result<RunSummary, SwarmError> {
    let spec = policy.spec();
    // The default actuator: the command is only published.
    let mut agent = Agent::new(policy, NoActuator, options.failsafe, sha)?;
    let (obs_key, act_key, token_key) = keys(&options.swarm, options.id);
    let publisher = session
        .declare_publisher(act_key.clone())
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .map_err(zenoh_err("declare publisher"))?;
    let subscriber = session.declare_subscriber(obs_key.clone()).wait().map_err(zenoh_err("declare subscriber"))?;
    let _token = session.liveliness().declare_token(token_key).wait().map_err(zenoh_err("declare liveliness token"))?;
    log::info!(
        "agent {} of swarm `{}` ready: {} observations, {} actions; listening on {obs_key}",
        options.id,
        options.swarm,
        spec.obs_dim,
        spec.n_actions
    );
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let mut summary = RunSummary::default();
    let tick = (options.failsafe.stale_after / 4).clamp(Duration::from_millis(1), Duration::from_millis(50));
    let mut publish = |msg: &ActionMsg| match msg.encode(&mut buf) {
        Ok(bytes) => {
            if let Err(e) = publisher.put(bytes.to_vec()).wait() {
                log::warn!("cannot publish on {act_key}: {e}");
            }
        }
        Err(e) => log::error!("cannot encode an action message: {e}"),
    };
    while !stop.load(Ordering::Relaxed) {
        match subscriber.recv_timeout(tick) {
            Ok(Some(sample)) => {
                let payload = sample.payload().to_bytes();
                let msg = agent.on_observation(&payload, Instant::now());
                summary.observations += 1;
                publish(&msg);
            }
            Ok(None) => {
                if let Some(msg) = agent.on_tick(Instant::now()) {
                    publish(&msg);
                }
            }
            Err(e) => return Err(SwarmError::Zenoh(format!("subscriber on {obs_key} closed: {e}"))),
        }
    }
    summary.errors = agent.errors();
    Ok(summary)
}
