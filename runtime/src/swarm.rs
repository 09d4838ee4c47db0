//! The swarm agent over Zenoh (`murmur agent`): one robot's [`Agent`] wired
//! to its key expressions ([`keys`]); deployed models go through
//! [`crate::model_update`], which knows nothing of Zenoh.
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

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zenoh::qos::CongestionControl;
use zenoh::Wait;

use crate::access_control::{access_control, Member, Robots};
use crate::agent::{short_hex, Agent, AgentConfig, AgentError, ErrorCounts};
use crate::keys;
use crate::model_signing::ModelTrust;
use crate::model_update::{lock, ModelOutcome, ModelUpdates};
use crate::policy::{NanoPolicy, OnnxPolicy, Policy, PolicyError};
use crate::ros2::{ActionMap, Ros2Actuator, Ros2Error};
use crate::wire::{ActionMsg, ModelFormat, MAX_MESSAGE_BYTES};

/// Everything `murmur agent` needs.
#[derive(Debug, Clone)]
pub struct SwarmAgentOptions {
    /// The exported actor (ONNX file or nano blob).
    pub model: PathBuf,
    /// Its format, which picks the policy backend that runs it.
    pub format: ModelFormat,
    /// The swarm's name (the second level of every key).
    pub swarm: String,
    /// This robot's agent index.
    pub id: usize,
    /// How to join the swarm's Zenoh network.
    pub zenoh: ZenohOptions,
    /// The failsafes.
    pub failsafe: AgentConfig,
    /// Public keys whose signed models this agent runs (`--trust-model-key`);
    /// empty: any model whose hash, format and fit check out (an open
    /// swarm, for a trusted bench).
    pub trusted_model_keys: Vec<PathBuf>,
    /// A ROS 2 action table (`--ros2`): each command also goes to the
    /// robot as a ROS 2 message over rmw_zenoh.
    pub ros2: Option<PathBuf>,
}

/// What a finished run counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunSummary {
    /// Observations answered by the policy or a fallback.
    pub observations: u64,
    /// New models received, checked and staged.
    pub models_staged: u64,
    /// New models refused (bad hash, format, file or role).
    pub models_refused: u64,
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
    /// A trusted key file cannot be used.
    #[error(transparent)]
    Key(#[from] crate::model_signing::KeyError),
    /// The ROS 2 action table or node.
    #[error(transparent)]
    Ros2(#[from] Ros2Error),
}

pub use crate::model_update::model_message;

/// Keeps `payload` (from [`model_message`]) as `swarm`'s model: it is sent
/// again each time an agent of the swarm comes up (its liveliness token
/// appears), so a robot that restarts, or joins after a deploy, switches
/// to it at its first episode instead of running the model file it was
/// started with. Agents already running it ignore the repeat. Lasts as
/// long as the returned subscriber.
pub fn hold_model(
    session: &zenoh::Session,
    swarm: &str,
    payload: Vec<u8>,
) -> Result<zenoh::pubsub::Subscriber<()>, SwarmError> {
    let (publisher_session, key) = (session.clone(), keys::model(swarm));
    session
        .liveliness()
        .declare_subscriber(keys::agent_tokens(swarm))
        .callback(move |sample| {
            if sample.kind() != zenoh::sample::SampleKind::Put {
                return;
            }
            match publisher_session.put(&key, payload.clone()).wait() {
                Ok(()) => log::info!("{} came up: sent it the model", sample.key_expr()),
                Err(e) => log::warn!("{} came up, but the model could not be sent: {e}", sample.key_expr()),
            }
        })
        .wait()
        .map_err(zenoh_err("declare liveliness subscriber"))
}

fn zenoh_err(what: &str) -> impl Fn(zenoh::Error) -> SwarmError + '_ {
    move |e| SwarmError::Zenoh(format!("{what}: {e}"))
}

/// `value` as JSON text for a Zenoh config entry: paths and endpoints may
/// hold quotes, backslashes or control characters, which Rust's debug form
/// escapes in ways JSON5 refuses (`\u{1b}`).
fn json(value: impl Into<serde_json::Value>) -> String {
    value.into().to_string()
}

/// How a process joins the swarm's Zenoh network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZenohOptions {
    /// A Zenoh JSON5 config file (routers, TLS, access control); Zenoh's
    /// peer-mode defaults without.
    pub config: Option<PathBuf>,
    /// Endpoints to listen on (e.g. `tcp/127.0.0.1:7447`).
    pub listen: Vec<String>,
    /// Endpoints to connect to.
    pub connect: Vec<String>,
    /// Zenoh's low-latency unicast transport (no QoS priority queues, no
    /// batching): a lower tail on the round trip. Every process of the swarm
    /// must use it, or their links do not open.
    pub low_latency: bool,
    /// Join a private swarm: mutual TLS only, with this member's
    /// certificate from the swarm's authority.
    pub private: Option<PrivateSwarm>,
}

/// A member of a private swarm: the directory of `murmur keys` (the
/// authority's `ca.pem`, the member's `NAME.pem` and `NAME.key`) and the
/// member's name (`coordinator`, `robot-N`, `operator[-NAME]`). Its Zenoh
/// session enforces the swarm's access control ([`crate::access_control`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateSwarm {
    /// The keys directory.
    pub dir: PathBuf,
    /// The member's name.
    pub member: String,
    /// The coordinator's team: robots `0..team` may answer it (each only
    /// for itself). Required of the coordinator, unused by other members.
    pub team: Option<usize>,
}

impl PrivateSwarm {
    /// Member `member` with the keys in `dir`; a coordinator's team is set
    /// by the run that knows it (`murmur hil`).
    pub fn new(dir: PathBuf, member: String) -> Self {
        Self { dir, member, team: None }
    }

    /// The coordinator of robots `0..team`.
    pub fn coordinator(dir: PathBuf, team: usize) -> Self {
        Self { dir, member: Member::Coordinator.common_name(), team: Some(team) }
    }

    /// The access-control rules this member's process enforces.
    pub fn access_control(&self) -> Result<String, SwarmError> {
        let robots = match (Member::parse(&self.member), self.team) {
            (Some(Member::Coordinator), Some(team)) => Robots::Team(team),
            (Some(Member::Coordinator), None) => {
                return Err(SwarmError::Zenoh(
                    "private swarm: the coordinator's access control needs the team's size".into(),
                ))
            }
            (Some(Member::Robot(id)), _) => Robots::One(id),
            (Some(Member::Operator), _) => Robots::Any,
            (None, _) => {
                return Err(SwarmError::Zenoh(format!(
                    "private swarm: `{}` is not a member's name (coordinator, robot-N or operator[-NAME])",
                    self.member
                )))
            }
        };
        Ok(access_control(robots))
    }

    /// The authority's certificate, the member's certificate and key.
    pub fn files(&self) -> [PathBuf; 3] {
        let file = |name: String| self.dir.join(name);
        [file("ca.pem".into()), file(format!("{}.pem", self.member)), file(format!("{}.key", self.member))]
    }

    /// `endpoint` over TLS: `tcp/...` becomes `tls/...`; other protocols
    /// are refused by Zenoh's protocol list.
    pub fn endpoint(endpoint: &str) -> String {
        match endpoint.strip_prefix("tcp/") {
            Some(rest) => format!("tls/{rest}"),
            None => endpoint.to_string(),
        }
    }
}

/// The Zenoh config of `options`: the file's (or Zenoh's defaults), with
/// the listen and connect endpoints set when given. Explicit endpoints also
/// switch multicast scouting off, so a swarm wired by hand meets exactly
/// the peers it names (no cross-talk with other swarms on the machine).
pub fn zenoh_config(options: &ZenohOptions) -> Result<zenoh::Config, SwarmError> {
    let mut config = match &options.config {
        Some(p) => {
            zenoh::Config::from_file(p).map_err(|e| SwarmError::Zenoh(format!("config {}: {e}", p.display())))?
        }
        None => zenoh::Config::default(),
    };
    let (mut listen, mut connect) = (options.listen.clone(), options.connect.clone());
    if options.private.is_none() && options.config.is_none() {
        log::warn!(
            "open swarm (no --private): anyone who reaches this network can join it, read its observations and \
             answer them; for a trusted bench only (docs/security.md)"
        );
    }
    if let Some(private) = &options.private {
        for path in private.files() {
            if !path.is_file() {
                return Err(SwarmError::Zenoh(format!(
                    "private swarm: {} is missing (murmur keys init / murmur keys issue)",
                    path.display()
                )));
            }
        }
        let acl = private.access_control()?;
        let [ca, cert, key] = private.files().map(|p| json(p.display().to_string()));
        // Mutual TLS only: no plain TCP link, no peer without a certificate
        // from the swarm's authority. Names are not checked on connect
        // (robots change addresses); the chain to the authority is.
        for (k, v) in [
            ("transport/link/protocols", r#"["tls"]"#.to_string()),
            ("transport/link/tls/root_ca_certificate", ca),
            ("transport/link/tls/listen_certificate", cert.clone()),
            ("transport/link/tls/listen_private_key", key.clone()),
            ("transport/link/tls/connect_certificate", cert),
            ("transport/link/tls/connect_private_key", key),
            ("transport/link/tls/enable_mtls", "true".to_string()),
            ("transport/link/tls/verify_name_on_connect", "false".to_string()),
            ("access_control", acl),
        ] {
            config.insert_json5(k, &v).map_err(zenoh_err(k))?;
        }
        listen = listen.iter().map(|e| PrivateSwarm::endpoint(e)).collect();
        if listen.is_empty() {
            // Zenoh's default listener is plain TCP, which the protocol list
            // refuses; any TLS port is as private.
            listen.push("tls/[::]:0".to_string());
        }
        connect = connect.iter().map(|e| PrivateSwarm::endpoint(e)).collect();
    }
    for (key, endpoints) in [("listen/endpoints", &listen), ("connect/endpoints", &connect)] {
        if !endpoints.is_empty() {
            config
                .insert_json5(key, &json(endpoints.clone()))
                .map_err(zenoh_err(&format!("endpoints {}", endpoints.join(", "))))?;
        }
    }
    if !options.listen.is_empty() || !options.connect.is_empty() {
        config.insert_json5("scouting/multicast/enabled", "false").map_err(zenoh_err("scouting"))?;
    }
    if options.low_latency {
        config.insert_json5("transport/unicast/lowlatency", "true").map_err(zenoh_err("low latency"))?;
        config.insert_json5("transport/unicast/qos/enabled", "false").map_err(zenoh_err("low latency"))?;
    }
    Ok(config)
}

/// Runs the agent until `stop` is set: loads the model, opens the Zenoh
/// session, declares the liveliness token and answers observations. New
/// models arriving on [`keys::model`] are checked and loaded beside the
/// running one and take over at the next episode start.
pub fn run(options: &SwarmAgentOptions, stop: &AtomicBool) -> Result<RunSummary, SwarmError> {
    // Keys first: a typo in a key path must not start an agent that runs
    // anyone's model.
    let trust = if options.trusted_model_keys.is_empty() {
        if options.zenoh.private.is_some() {
            log::info!("no --trust-model-key: this agent runs any well-formed model a member of its swarm deploys");
        } else {
            log::warn!(
                "no --trust-model-key: this agent runs any well-formed model anyone on the network deploys (an open \
                 swarm, for a trusted bench only; docs/security.md)"
            );
        }
        None
    } else {
        Some(ModelTrust::load(&options.swarm, &options.trusted_model_keys)?)
    };
    let ros2 = options.ros2.as_ref().map(|path| ActionMap::load(path).map(|map| (map, path.clone()))).transpose()?;
    let bytes =
        std::fs::read(&options.model).map_err(|source| SwarmError::Io { path: options.model.clone(), source })?;
    let sha: [u8; 32] = Sha256::digest(&bytes).into();
    let session = zenoh::open(zenoh_config(&options.zenoh)?).wait().map_err(zenoh_err("open"))?;
    let id = options.id;
    let result = match options.format {
        ModelFormat::Onnx => {
            let load = move |model: &[u8]| OnnxPolicy::from_bytes(model, "(received over Zenoh)", id);
            serve(OnnxPolicy::load(&options.model, id)?, sha, (load, trust), ros2, options, &session, stop)
        }
        ModelFormat::Nano => {
            // Nano policies read their weights in place: each model's bytes
            // live as long as the process (a swapped-out model, ~100 kB,
            // stays allocated; swaps are rare).
            let leak = |b: Vec<u8>| -> &'static [u8] { Box::leak(b.into_boxed_slice()) };
            let load = move |model: &[u8]| NanoPolicy::new(leak(model.to_vec()), id);
            serve(NanoPolicy::new(leak(bytes), id)?, sha, (load, trust), ros2, options, &session, stop)
        }
    };
    let _ = session.close().wait();
    result
}

fn serve<P: Policy + Send + 'static>(
    policy: P,
    sha: [u8; 32],
    (load, trust): (impl Fn(&[u8]) -> Result<P, PolicyError> + Send + Sync + 'static, Option<ModelTrust>),
    ros2: Option<(ActionMap, PathBuf)>,
    options: &SwarmAgentOptions,
    session: &zenoh::Session,
    stop: &AtomicBool,
) -> Result<RunSummary, SwarmError> {
    let spec = policy.spec();
    // Without a ROS 2 table the command is only published to the coordinator.
    let actuator = ros2.map(|(map, path)| Ros2Actuator::new(map, &path, options.id, spec.n_actions)).transpose()?;
    let agent = Arc::new(Mutex::new(Agent::new(policy, actuator, options.failsafe, sha)?));
    let (swarm, id) = (options.swarm.as_str(), options.id);
    let (obs_key, act_key, token_key) =
        (keys::observation(swarm, id), keys::action(swarm, id), keys::agent_token(swarm, id));
    let publisher = Arc::new(
        session
            .declare_publisher(act_key.clone())
            .congestion_control(CongestionControl::Block)
            .express(true)
            .wait()
            .map_err(zenoh_err("declare publisher"))?,
    );
    let observations = Arc::new(AtomicU64::new(0));
    // Observations are answered in Zenoh's receive callback, as its own
    // ping-pong does: no hand-off to another thread between the
    // observation arriving and the action leaving.
    let (cb_agent, cb_publisher, cb_count) = (Arc::clone(&agent), Arc::clone(&publisher), Arc::clone(&observations));
    let _subscriber = session
        .declare_subscriber(obs_key.clone())
        .callback(move |sample| {
            let payload = sample.payload().to_bytes();
            let answer = lock(&cb_agent).on_observation(&payload, Instant::now());
            if let Some(msg) = answer {
                cb_count.fetch_add(1, Ordering::Relaxed);
                publish(&cb_publisher, &msg);
            }
        })
        .wait()
        .map_err(zenoh_err("declare subscriber"))?;
    // Models are listened for before the token announces the agent: a
    // model holder (`hold_model`) answers the token with the swarm's model.
    let models = session.declare_subscriber(keys::model(swarm)).wait().map_err(zenoh_err("declare subscriber"))?;
    let _token = session.liveliness().declare_token(token_key).wait().map_err(zenoh_err("declare liveliness token"))?;
    // Models are checked and loaded on a helper thread, beside the running
    // one, so observations keep being answered meanwhile.
    let updates = ModelUpdates::new(options.format, trust, load);
    log::info!(
        "agent {} of swarm `{}` ready: {} observations, {} actions; listening on {obs_key}",
        options.id,
        options.swarm,
        spec.obs_dim,
        spec.n_actions
    );
    let mut summary = RunSummary::default();
    // This thread watches for silence and new models.
    let tick = (options.failsafe.stale_after / 4).clamp(Duration::from_millis(1), Duration::from_millis(50));
    while !stop.load(Ordering::Relaxed) {
        match models.recv_timeout(tick) {
            Ok(Some(sample)) => {
                if !updates.offer(sample.payload().to_bytes().into_owned(), &agent) {
                    log::debug!("a model received again: already running or staged");
                }
            }
            Ok(None) => {}
            Err(e) => return Err(SwarmError::Zenoh(format!("model subscriber closed: {e}"))),
        }
        match updates.poll(&agent) {
            Some(ModelOutcome::Staged(sha)) => {
                summary.models_staged += 1;
                log::info!("new model {} staged: it takes over at the next episode", short_hex(&sha));
            }
            Some(ModelOutcome::Refused(why)) => {
                summary.models_refused += 1;
                log::warn!("refused a new model: {why}; the running model stays");
            }
            None => {}
        }
        let stale = lock(&agent).on_tick(Instant::now());
        if let Some(msg) = stale {
            publish(&publisher, &msg);
        }
    }
    summary.observations = observations.load(Ordering::Relaxed);
    summary.errors = lock(&agent).errors();
    Ok(summary)
}

/// Encodes and publishes one action message (errors are logged: the
/// command already went to the actuator).
fn publish(publisher: &zenoh::pubsub::Publisher<'_>, msg: &ActionMsg) {
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    match msg.encode(&mut buf) {
        Ok(bytes) => {
            if let Err(e) = publisher.put(bytes.to_vec()).wait() {
                log::warn!("cannot publish on {}: {e}", publisher.key_expr());
            }
        }
        Err(e) => log::error!("cannot encode an action message: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private swarm's key files keep their paths in the Zenoh config
    /// whatever characters the directory's name holds (written as JSON
    /// strings, not as Rust's debug strings, whose `\u{1b}` JSON5 refuses).
    #[test]
    fn key_paths_reach_the_zenoh_config_as_written() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("keys \"quoted\" back\\slash \u{1b} escape");
        std::fs::create_dir(&dir).unwrap();
        for file in ["ca.pem", "robot-0.pem", "robot-0.key"] {
            std::fs::write(dir.join(file), "").unwrap();
        }
        let private = PrivateSwarm::new(dir.clone(), "robot-0".into());
        let config = zenoh_config(&ZenohOptions { private: Some(private), ..Default::default() }).unwrap();
        for (key, file) in [
            ("transport/link/tls/root_ca_certificate", "ca.pem"),
            ("transport/link/tls/connect_private_key", "robot-0.key"),
        ] {
            let got: String = serde_json::from_str(&config.get_json(key).unwrap()).unwrap();
            assert_eq!(got, dir.join(file).display().to_string(), "{key}");
        }
    }
}
