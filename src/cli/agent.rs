//! `murmur agent`: one robot's decentralised actor on the swarm, over Zenoh.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use murmur::runtime::agent::AgentConfig;
use murmur::runtime::swarm::{self, SwarmAgentOptions};
use murmur::runtime::ModelFormat;

use super::network::{stop_on_signal, ZenohArgs};

/// Arguments of `murmur agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The exported actor: an ONNX file, or a nano blob with --backend nano.
    #[arg(long)]
    pub model: PathBuf,
    /// The swarm's name (keys are murmur/<swarm>/agent/<id>/...).
    #[arg(long)]
    pub swarm: String,
    /// This robot's agent index.
    #[arg(long)]
    pub id: usize,
    /// The model's format, which picks the policy implementation: onnx
    /// (ONNX Runtime) or nano (pure Rust).
    #[arg(long, default_value_t = ModelFormat::Onnx)]
    pub backend: ModelFormat,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
    /// Milliseconds without an observation before the safe action is sent.
    #[arg(long, default_value_t = 500)]
    pub stale_after: u64,
    /// The action sent when the policy cannot decide.
    #[arg(long, default_value_t = 0)]
    pub safe_action: usize,
    /// Run only deployed models signed by this operator key (a public key
    /// file from `murmur keys signer`; repeat for several operators).
    /// Without it, any well-formed model is run (a trusted bench only).
    #[arg(long = "trust-model-key", value_name = "PUBLIC_KEY")]
    pub trust_model_keys: Vec<PathBuf>,
    /// Also send each command to the robot as a ROS 2 message over
    /// rmw_zenoh, by this action table (docs/ros2.md; e.g.
    /// configs/ros2/spread_cmd_vel.toml).
    #[arg(long, value_name = "ACTION_TABLE")]
    pub ros2: Option<PathBuf>,
    /// Stop cleanly when standard input closes (the swarm launcher uses it,
    /// so agents never outlive their coordinator).
    #[arg(long)]
    pub exit_with_stdin: bool,
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.stale_after >= 1, "--stale-after must be at least 1 ms");
    let options = SwarmAgentOptions {
        model: args.model,
        format: args.backend,
        swarm: args.swarm,
        id: args.id,
        zenoh: args.zenoh.options(),
        failsafe: AgentConfig { safe_action: args.safe_action, stale_after: Duration::from_millis(args.stale_after) },
        trusted_model_keys: args.trust_model_keys,
        ros2: args.ros2,
    };
    // Runs until Ctrl-C, SIGTERM or (when asked) the end of standard input;
    // the liveliness token goes with the session.
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signal(&stop)?;
    if args.exit_with_stdin {
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(k) if k > 0) {}
            flag.store(true, Ordering::Relaxed);
        });
    }
    let summary = swarm::run(&options, &stop)?;
    println!("agent {} stopped after {} observations ({:?})", options.id, summary.observations, summary.errors);
    Ok(())
}
