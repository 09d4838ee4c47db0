//! `murmur deploy`: send a new model to a running swarm; each agent checks
//! it and switches at its next episode start.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use murmur::runtime::agent::hex;
use murmur::runtime::swarm::{self, Backend};
use zenoh::Wait;

use super::agent::BackendArg;
use super::network::ZenohArgs;

/// Arguments of `murmur deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The exported actor to send (ONNX file, or nano blob with --backend nano).
    #[arg(long)]
    pub model: PathBuf,
    /// The swarm's name.
    #[arg(long)]
    pub swarm: String,
    /// The agents' policy implementation (the model's format).
    #[arg(long, value_enum, default_value_t = BackendArg::Onnx)]
    pub backend: BackendArg,
    /// Seconds to wait for the swarm's agents before sending.
    #[arg(long, default_value_t = 10)]
    pub wait: u64,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
}

pub fn run(args: DeployArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.model.is_file(), "--model {}: no such file", args.model.display());
    let config = swarm::zenoh_config(&args.zenoh.options())?;
    let session = zenoh::open(config).wait().map_err(|e| anyhow::anyhow!("zenoh: {e}"))?;
    let tokens = format!("murmur/{}/agent/*", args.swarm);
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let agents = loop {
        let replies = session
            .liveliness()
            .get(&tokens)
            .timeout(Duration::from_millis(500))
            .wait()
            .map_err(|e| anyhow::anyhow!("zenoh: {e}"))?;
        let seen = std::iter::from_fn(|| replies.recv().ok()).filter(|r| r.result().is_ok()).count();
        if seen > 0 || Instant::now() >= deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    anyhow::ensure!(agents > 0, "no agent of swarm `{}` answered within {} s: nothing was sent", args.swarm, args.wait);
    let backend = match args.backend {
        BackendArg::Onnx => Backend::Onnx,
        BackendArg::Nano => Backend::Nano,
    };
    let sha = swarm::publish_model(&session, &args.swarm, &args.model, backend)
        .with_context(|| format!("cannot send {}", args.model.display()))?;
    // Let the transport drain before the session closes.
    std::thread::sleep(Duration::from_millis(500));
    let _ = session.close().wait();
    println!(
        "sent {} (sha256 {}) to the {agents} agent(s) of swarm `{}`; they switch at their next episode start",
        args.model.display(),
        hex(&sha),
        args.swarm
    );
    Ok(())
}
