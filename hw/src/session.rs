//! One hardware-in-the-loop run put together, as `murmur hil` does it: a
//! simulated bridge for a built-in task, the Zenoh link, an optional
//! server-side critic and recorder, and optionally the robots' agent
//! processes on this machine.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use murmur_runtime::access_control::Member;
use murmur_runtime::swarm::{zenoh_config, ZenohOptions};
use murmur_runtime::ModelFormat;
use murmur_train::config::EnvConfig;

use crate::bridge::{BridgeError, RobotBridge, SimulatedBridge};
use crate::coordinator::{Coordinator, HilOptions};
use crate::critic_server::ServerCritic;
use crate::launcher::{AgentLaunch, Swarm};
use crate::link::SwarmLink;
use crate::recorder::{DatasetHeader, DatasetSource, DatasetWriter, SourceKind, DATASET_VERSION};
use crate::ros2_world::{PoseWorld, PoseWorldConfig};
use crate::summary::{EpisodeSummary, HilSummary};
use crate::HwError;

/// Agent processes to start for a simulated swarm.
#[derive(Debug, Clone)]
pub struct SpawnAgents {
    /// The `murmur` executable.
    pub exe: PathBuf,
    /// The exported actor (ONNX file or nano blob).
    pub model: PathBuf,
    /// The model's format (which picks the agents' policy backend).
    pub format: ModelFormat,
    /// The agents' `--stale-after`, milliseconds.
    pub stale_after_ms: u64,
    /// Operator public keys the agents trust for deployed models
    /// (`--trust-model-key`); none: they run any well-formed model.
    pub trusted_model_keys: Vec<PathBuf>,
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct HilRun {
    /// The simulated task.
    pub env: EnvConfig,
    /// The swarm's name.
    pub swarm: String,
    /// Pacing, deadlines, episodes, seed, safe action.
    pub options: HilOptions,
    /// Record the episodes into this dataset directory.
    pub record: Option<PathBuf>,
    /// Load this training run's critic on the server.
    pub critic: Option<PathBuf>,
    /// Start the robots' agents here.
    pub spawn: Option<SpawnAgents>,
    /// How the coordinator joins Zenoh.
    pub zenoh: ZenohOptions,
    /// Real robots tracked over ROS 2 in place of the simulator (spread).
    pub ros2_world: Option<PoseWorldConfig>,
}

/// A free TCP port on the loopback interface.
fn free_port() -> Result<u16, HwError> {
    let no_port = |source| HwError::Launch { what: "a free port for the coordinator".into(), source };
    let listener = TcpListener::bind("127.0.0.1:0").map_err(no_port)?;
    listener.local_addr().map(|a| a.port()).map_err(no_port)
}

/// Runs `run` until its episodes are done or `stop` is set; calls
/// `on_episode` after each episode. Spawned agents are stopped at the end,
/// whatever happened. The world is the simulator, or with `ros2_world`
/// real robots tracked over ROS 2.
pub fn run_hil(
    run: &HilRun,
    stop: &AtomicBool,
    on_episode: impl FnMut(&EpisodeSummary),
) -> Result<HilSummary, HwError> {
    match (&run.ros2_world, &run.env) {
        (None, env) => run_on(SimulatedBridge::new(env.name(), env.build()), run, stop, on_episode),
        (Some(world), EnvConfig::Spread(task)) => {
            run_on(PoseWorld::new(world.clone(), task.clone())?, run, stop, on_episode)
        }
        (Some(_), other) => Err(HwError::Bridge(BridgeError {
            bridge: "ros2".into(),
            msg: format!("a ROS 2 world plays spread; `{}` runs in the simulator only", other.name()),
        })),
    }
}

fn run_on<B: RobotBridge>(
    bridge: B,
    run: &HilRun,
    stop: &AtomicBool,
    on_episode: impl FnMut(&EpisodeSummary),
) -> Result<HilSummary, HwError> {
    let dims = bridge.dims();
    let critic = run.critic.as_deref().map(ServerCritic::load).transpose()?;
    if let (Some(c), Some(path)) = (&critic, &run.critic) {
        log::info!("server-side critic: {} ({})", c.learner(), path.display());
    }
    let dataset = match &run.record {
        Some(dir) => Some(
            DatasetWriter::open(
                dir,
                DatasetHeader {
                    format_version: DATASET_VERSION,
                    environment: run.env.name().to_string(),
                    n_agents: dims.n_agents,
                    obs_dim: dims.obs_dim,
                    state_dim: dims.state_dim,
                    n_actions: dims.n_actions,
                    safe_action: run.options.safe_action,
                },
                Some(DatasetSource::new(SourceKind::Hil)),
            )
            .map_err(HwError::Dataset)?,
        ),
        None => None,
    };
    // Spawned agents on one machine: the coordinator listens on a loopback
    // port and the agents connect to it, unless endpoints were given (a
    // config file's own endpoints give way to it; the agents load the
    // same file, and listen on loopback only).
    let mut zenoh = run.zenoh.clone();
    if let Some(private) = &mut zenoh.private {
        // The coordinator admits each robot of its team to its own keys.
        if Member::parse(&private.member) != Some(Member::Coordinator) {
            return Err(HwError::Swarm(murmur_runtime::swarm::SwarmError::Zenoh(format!(
                "hil joins a private swarm as its coordinator (--member coordinator), not as `{}`",
                private.member
            ))));
        }
        private.team = Some(dims.n_agents);
    }
    let mut agent_connect = zenoh.connect.clone();
    if run.spawn.is_some() && zenoh.listen.is_empty() && zenoh.connect.is_empty() {
        let endpoint = format!("tcp/127.0.0.1:{}", free_port()?);
        zenoh.listen.push(endpoint.clone());
        agent_connect.push(endpoint);
    } else if !zenoh.listen.is_empty() {
        agent_connect.extend(zenoh.listen.iter().map(|e| e.replace("0.0.0.0", "127.0.0.1")));
    }
    let config = zenoh_config(&zenoh)?;
    let link = SwarmLink::open(config, &run.swarm, dims.n_agents)?;
    let swarm = match &run.spawn {
        Some(s) => Some(Swarm::spawn(
            AgentLaunch {
                exe: s.exe.clone(),
                model: s.model.clone(),
                format: s.format,
                swarm: run.swarm.clone(),
                connect: agent_connect,
                zenoh_config: zenoh.config.clone(),
                private_keys: zenoh.private.as_ref().map(|p| p.dir.clone()),
                stale_after_ms: s.stale_after_ms,
                trusted_model_keys: s.trusted_model_keys.clone(),
                safe_action: run.options.safe_action,
                low_latency: zenoh.low_latency,
            },
            dims.n_agents,
        )?),
        None => None,
    };
    let mut coordinator = Coordinator::new(bridge, link, critic, dataset, run.options.clone())?;
    let result = coordinator.run(stop, on_episode);
    if let Some(swarm) = swarm {
        for (id, status) in swarm.stop(Duration::from_secs(5)) {
            match status {
                Some(s) if s.success() => {}
                Some(s) => log::warn!("agent {id} ended with {s}"),
                None => log::warn!("agent {id} did not stop within 5 s and was killed"),
            }
        }
    }
    coordinator.close();
    result
}
