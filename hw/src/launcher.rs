//! The swarm launcher: one `murmur agent` process per robot, for simulated
//! swarms on one machine (`murmur hil --spawn-agents`).
//!
//! Each agent runs with `--exit-with-stdin`: its standard input is a pipe
//! from the coordinator, so [`Swarm::stop`] only closes the pipes and the
//! agents end cleanly, and a coordinator that is killed takes its agents
//! with it (the pipes close with the process) instead of leaving orphans.
//!
//! Agents inherit the coordinator's Zenoh settings (its config file, the
//! low-latency transport, its private swarm with each robot's own
//! certificate) and listen on loopback only: they share the
//! coordinator's machine, and nothing else on the network has a reason to
//! reach them.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use murmur_runtime::ModelFormat;

use crate::HwError;

/// How to start the agents.
#[derive(Debug, Clone)]
pub struct AgentLaunch {
    /// The `murmur` executable.
    pub exe: PathBuf,
    /// The exported actor every agent loads.
    pub model: PathBuf,
    /// The model's format (which picks the agents' policy backend).
    pub format: ModelFormat,
    /// The swarm's name.
    pub swarm: String,
    /// Zenoh endpoints the agents connect to (the coordinator's).
    pub connect: Vec<String>,
    /// The coordinator's Zenoh config file (TLS, access control), which the
    /// agents load too.
    pub zenoh_config: Option<PathBuf>,
    /// The private swarm's keys directory, when the coordinator joined one:
    /// robot N's agent joins as member `robot-N`.
    pub private_keys: Option<PathBuf>,
    /// Milliseconds of silence before an agent sends its safe action.
    pub stale_after_ms: u64,
    /// Operator public keys the agents trust for deployed models.
    pub trusted_model_keys: Vec<PathBuf>,
    /// The agents' safe action.
    pub safe_action: usize,
    /// Zenoh's low-latency transport (must match the coordinator's).
    pub low_latency: bool,
}

/// Where spawned agents listen: loopback, a port the system picks.
pub const LOOPBACK_ANY_PORT: &str = "tcp/127.0.0.1:0";

/// Running agent processes, by robot id.
#[derive(Debug)]
pub struct Swarm {
    launch: AgentLaunch,
    agents: Vec<(usize, Child)>,
}

impl Swarm {
    /// Starts agents `0..n`.
    pub fn spawn(launch: AgentLaunch, n: usize) -> Result<Self, HwError> {
        let mut swarm = Self { launch, agents: Vec::with_capacity(n) };
        for id in 0..n {
            swarm.start(id)?;
        }
        Ok(swarm)
    }

    /// Starts (or restarts) the agent of robot `id`.
    pub fn start(&mut self, id: usize) -> Result<(), HwError> {
        self.kill(id);
        let l = &self.launch;
        let mut cmd = Command::new(&l.exe);
        cmd.arg("agent")
            .arg("--model")
            .arg(&l.model)
            .args(["--backend", l.format.name(), "--swarm", &l.swarm, "--id", &id.to_string()])
            .args(["--stale-after", &l.stale_after_ms.to_string(), "--safe-action", &l.safe_action.to_string()])
            .arg("--exit-with-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        for e in &l.connect {
            cmd.args(["--connect", e]);
        }
        cmd.args(["--listen", LOOPBACK_ANY_PORT]);
        if let Some(config) = &l.zenoh_config {
            cmd.arg("--zenoh-config").arg(config);
        }
        if let Some(keys) = &l.private_keys {
            cmd.arg("--private").arg(keys).args(["--member", &format!("robot-{id}")]);
        }
        if l.low_latency {
            cmd.arg("--low-latency");
        }
        for key in &l.trusted_model_keys {
            cmd.arg("--trust-model-key").arg(key);
        }
        let child =
            cmd.spawn().map_err(|source| HwError::Launch { what: format!("starting {}", l.exe.display()), source })?;
        self.agents.push((id, child));
        Ok(())
    }

    /// Kills robot `id`'s agent at once (no clean stop), if it runs.
    pub fn kill(&mut self, id: usize) {
        if let Some(k) = self.agents.iter().position(|(i, _)| *i == id) {
            let (_, mut child) = self.agents.swap_remove(k);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Ids of the agents started and not stopped, in order.
    pub fn ids(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = self.agents.iter().map(|(i, _)| *i).collect();
        ids.sort_unstable();
        ids
    }

    /// Stops every agent cleanly (closes its standard input), waiting up to
    /// `grace` in all before killing the rest. Returns each agent's exit
    /// status (`None`: it had to be killed).
    pub fn stop(mut self, grace: Duration) -> Vec<(usize, Option<ExitStatus>)> {
        let mut agents = std::mem::take(&mut self.agents);
        agents.sort_by_key(|(i, _)| *i);
        for (_, child) in &mut agents {
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + grace;
        agents
            .into_iter()
            .map(|(id, mut child)| loop {
                match child.try_wait() {
                    Ok(Some(status)) => break (id, Some(status)),
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break (id, None);
                    }
                }
            })
            .collect()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for (_, child) in &mut self.agents {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn spawned_agents_get_the_coordinators_config_and_keys_and_listen_on_loopback_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let args_file = dir.path().join("args");
        let exe = dir.path().join("fake-murmur");
        std::fs::write(&exe, format!("#!/bin/sh\necho \"$@\" > {}\n", args_file.display())).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let launch = AgentLaunch {
            exe,
            model: "actor.onnx".into(),
            format: ModelFormat::Onnx,
            swarm: "lab".into(),
            connect: vec!["tls/127.0.0.1:7447".into()],
            zenoh_config: Some("private.json5".into()),
            private_keys: Some("keys".into()),
            stale_after_ms: 300,
            trusted_model_keys: vec!["operator.pub".into(), "second.pub".into()],
            safe_action: 0,
            low_latency: true,
        };
        let swarm = Swarm::spawn(launch, 1).unwrap();
        let statuses = swarm.stop(Duration::from_secs(5));
        assert!(statuses[0].1.is_some_and(|s| s.success()));
        let args = std::fs::read_to_string(&args_file).unwrap();
        for expected in [
            "--listen tcp/127.0.0.1:0",
            "--zenoh-config private.json5",
            "--connect tls/127.0.0.1:7447",
            "--low-latency",
            "--swarm lab --id 0",
            "--private keys --member robot-0",
            "--trust-model-key operator.pub --trust-model-key second.pub",
        ] {
            assert!(args.contains(expected), "`{expected}` missing from: {args}");
        }
    }
}
