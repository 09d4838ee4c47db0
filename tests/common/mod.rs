//! Shared by the workspace's integration tests: learning checks against
//! uniform-random agents, free loopback ports, `murmur` processes that stop
//! with the test, and Zenoh sessions that reach exactly one endpoint.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};

use murmur::train::config::Config;
use murmur::train::eval::{uniform_random, ReturnStats};
use murmur::train::trainer::Trainer;
use zenoh::Wait;

/// Greedy evaluation of a preset trained for `t_max` steps, and the
/// uniform-random baseline on the same environment.
pub fn train_and_compare(preset: &str, t_max: u64, seed: u64) -> (ReturnStats, ReturnStats) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(preset);
    let overrides =
        [format!("t_max={t_max}"), format!("seed={seed}"), "eval_interval=0".into(), "device=\"cpu\"".into()];
    let cfg = Config::load(&path, &overrides).expect("preset loads");
    let mut trainer = Trainer::new(cfg.clone()).expect("trainer builds");
    trainer.train(|_| {}).expect("training runs");
    let learned = trainer.evaluate(500, true).expect("evaluation runs");
    let random = uniform_random(cfg.env.build().as_mut(), 1000, 99);
    eprintln!("{preset}: {t_max} steps, seed {seed}\n  learned (greedy): {learned}\n  uniform random:   {random}");
    (learned, random)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Zenoh endpoint `tcp/127.0.0.1:<free port>`.
pub fn free_endpoint() -> String {
    format!("tcp/127.0.0.1:{}", free_port())
}

/// A child process killed and reaped when dropped, so a failing test
/// leaves no agent behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `murmur` binary under test, as a command to add arguments to.
pub fn murmur_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_murmur"))
}

/// `murmur agent --model MODEL --swarm SWARM --id ID ARGS..`, started.
pub fn spawn_agent(model: &Path, swarm: &str, id: &str, args: &[&str]) -> Running {
    let mut cmd = murmur_command();
    cmd.args(["agent", "--model"]).arg(model).args(["--swarm", swarm, "--id", id]).args(args);
    Running(cmd.spawn().expect("start murmur agent"))
}

/// A peer session of the test's own that connects to `endpoint` only (no
/// multicast scouting).
pub fn session_to(endpoint: &str) -> zenoh::Session {
    let mut cfg = zenoh::Config::default();
    cfg.insert_json5("mode", r#""peer""#).unwrap();
    cfg.insert_json5("connect/endpoints", &format!(r#"["{endpoint}"]"#)).unwrap();
    cfg.insert_json5("scouting/multicast/enabled", "false").unwrap();
    zenoh::open(cfg).wait().unwrap()
}
