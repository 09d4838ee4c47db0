//! Zenoh options shared by the commands that join a swarm.

use std::path::PathBuf;

use murmur::runtime::swarm::{PrivateSwarm, ZenohOptions};

/// How to join the swarm's Zenoh network.
#[derive(Debug, Clone, clap::Args)]
pub struct ZenohArgs {
    /// A Zenoh JSON5 config (routers, TLS, access control); Zenoh's
    /// peer-mode defaults without.
    #[arg(long)]
    pub zenoh_config: Option<PathBuf>,
    /// Listen on this Zenoh endpoint (e.g. tcp/0.0.0.0:7447); repeatable.
    /// Explicit endpoints turn multicast discovery off.
    #[arg(long, value_name = "ENDPOINT")]
    pub listen: Vec<String>,
    /// Connect to this Zenoh endpoint (e.g. tcp/192.168.1.10:7447); repeatable.
    #[arg(long, value_name = "ENDPOINT")]
    pub connect: Vec<String>,
    /// Zenoh's low-latency transport (lower round-trip tail); every process
    /// of the swarm must use it.
    #[arg(long)]
    pub low_latency: bool,
    /// Join a private swarm: mutual TLS only, with the certificates of
    /// `murmur keys` in this directory (tcp/ endpoints become tls/).
    #[arg(long, value_name = "KEYS_DIR", requires = "member")]
    pub private: Option<PathBuf>,
    /// This process's name in the private swarm: coordinator, robot-N or
    /// operator (its certificate is KEYS_DIR/NAME.pem).
    #[arg(long, value_name = "NAME", requires = "private")]
    pub member: Option<String>,
}

impl ZenohArgs {
    /// The library's options.
    pub fn options(&self) -> ZenohOptions {
        ZenohOptions {
            config: self.zenoh_config.clone(),
            listen: self.listen.clone(),
            connect: self.connect.clone(),
            low_latency: self.low_latency,
            private: self.private.clone().zip(self.member.clone()).map(|(dir, member)| PrivateSwarm::new(dir, member)),
        }
    }
}

/// Sets `stop` on Ctrl-C or SIGTERM, so a command ends cleanly.
pub fn stop_on_signal(stop: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> anyhow::Result<()> {
    let flag = std::sync::Arc::clone(stop);
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::Relaxed))
        .map_err(|e| anyhow::anyhow!("cannot install the signal handler: {e}"))
}
