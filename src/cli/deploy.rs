//! `murmur deploy`: send a new model to a running swarm; each agent checks
//! it and switches at its next episode start. With `--hold`, stay up and
//! send it to every agent that starts later too.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use murmur::runtime::agent::hex;
use murmur::runtime::model_signing::ModelSigner;
use murmur::runtime::ModelFormat;
use murmur::runtime::{keys, swarm};
use zenoh::Wait;

use super::network::{stop_on_signal, ZenohArgs};

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
    #[arg(long, default_value_t = ModelFormat::Onnx)]
    pub backend: ModelFormat,
    /// Seconds to wait for the swarm's agents before sending.
    #[arg(long, default_value_t = 10)]
    pub wait: u64,
    /// Stay up (until Ctrl-C) and send the model to every agent that comes
    /// up later: a robot that restarts, or joins, runs it from its first
    /// episode instead of the model file it was started with. With --hold
    /// no agent needs to be running yet.
    #[arg(long)]
    pub hold: bool,
    /// Sign the model with this operator key (a private key file from
    /// `murmur keys signer`); agents started with --trust-model-key run only
    /// signed models.
    #[arg(long, value_name = "PRIVATE_KEY")]
    pub sign: Option<PathBuf>,
    #[command(flatten)]
    pub zenoh: ZenohArgs,
}

pub fn run(args: DeployArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.model.is_file(), "--model {}: no such file", args.model.display());
    let signer = args.sign.as_deref().map(ModelSigner::load).transpose()?;
    let config = swarm::zenoh_config(&args.zenoh.options())?;
    let session = zenoh::open(config).wait().map_err(|e| anyhow::anyhow!("zenoh: {e}"))?;
    let tokens = keys::agent_tokens(&args.swarm);
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
    anyhow::ensure!(
        agents > 0 || args.hold,
        "no agent of swarm `{}` answered within {} s: nothing was sent (--hold serves agents that start later)",
        args.swarm,
        args.wait
    );
    if signer.is_none() {
        log::warn!("--sign not given: the model goes out unsigned, and agents that trust operator keys refuse it");
    }
    let backend = args.backend;
    let cannot_send = || format!("cannot send {}", args.model.display());
    // The issue time orders deploys: agents refuse a signed model issued no
    // later than the one they took (a replay).
    let issued = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_micros();
    let issued = u64::try_from(issued).unwrap_or(u64::MAX);
    let (payload, sha) =
        swarm::model_message(&args.model, backend, &args.swarm, issued, signer.as_ref()).with_context(cannot_send)?;
    // Held before the send, so no agent coming up in between is missed
    // (one that gets both ignores the repeat).
    let holder = if args.hold { Some(swarm::hold_model(&session, &args.swarm, payload.clone())?) } else { None };
    session.put(keys::model(&args.swarm), payload).wait().map_err(|e| anyhow::anyhow!("zenoh: {e}"))?;
    println!(
        "sent {} (sha256 {}, {}) to the {agents} agent(s) of swarm `{}`; they switch at their next episode start",
        args.model.display(),
        hex(&sha),
        signer.as_ref().map_or("unsigned".to_string(), |k| format!("signed by {}", k.public_hex())),
        args.swarm
    );
    if holder.is_some() {
        println!("holding it for agents that come up later; Ctrl-C to stop");
        let stop = Arc::new(AtomicBool::new(false));
        stop_on_signal(&stop)?;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Let the transport drain before the session closes.
    std::thread::sleep(Duration::from_millis(500));
    drop(holder);
    let _ = session.close().wait();
    Ok(())
}
