//! The swarm's round trip on loopback: observation out, `murmur agent`
//! (a separate process) decides, action back; p50 and p99 over 10,000
//! individually timed round trips, for each policy backend. Not criterion:
//! the interesting figure is the tail of single round trips. The agent
//! answers in Zenoh's receive callback; this client stamps the answer in its
//! own receive callback too.
//!
//! ```sh
//! cargo bench --bench zenoh_round_trip    # open, then private (mutual TLS); default transport, then --low-latency
//! ```

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use murmur::export::{export, ModelFormat, VerifySettings};
use murmur::runtime::swarm::{zenoh_config, PrivateSwarm, ZenohOptions};
use murmur::runtime::wire::{ActionMsg, ActionSource, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur::runtime::ActorSpec;
use murmur::train::actor::{Actor, ActorOptions};
use murmur::train::checkpoint::{self, CheckpointMeta};
use zenoh::qos::CongestionControl;
use zenoh::Wait;

/// The issue's reference actor: obs 18, hidden 64, 5 actions (spread, N = 3).
const SPEC: ActorSpec = ActorSpec { obs_dim: 18, n_actions: 5, n_agents: 3, hidden: 64 };

fn models(dir: &Path) -> (PathBuf, PathBuf) {
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: true, orthogonal_init: true, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), SPEC, options);
    let ckpt = checkpoint::save(&dir.join("ckpt"), &vs, &[], CheckpointMeta::untrained(SPEC, options, "spread"))
        .expect("checkpoint");
    let (onnx, nano) = (dir.join("actor.onnx"), dir.join("actor.nano"));
    let settings = VerifySettings { sequences: 4, ..Default::default() };
    export(&ckpt, &onnx, ModelFormat::Onnx, settings).expect("onnx export");
    export(&ckpt, &nano, ModelFormat::Nano, settings).expect("nano export");
    (onnx, nano)
}

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Round-trip times in microseconds, sorted. With `private` (a keys
/// directory) the agent and this client join a private swarm: mutual TLS.
fn round_trips(model: &Path, backend: &str, n: usize, low_latency: bool, private: Option<&Path>) -> Vec<f64> {
    let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let swarm = format!("rtt{}{backend}", std::process::id());
    let mut agent = Command::new(env!("CARGO_BIN_EXE_murmur"));
    agent
        .args(["agent", "--model"])
        .arg(model)
        .args(["--backend", backend, "--swarm", &swarm, "--id", "0", "--stale-after", "60000", "--listen"])
        .arg(&endpoint)
        .stdout(Stdio::null());
    if low_latency {
        agent.arg("--low-latency");
    }
    if let Some(keys) = private {
        agent.arg("--private").arg(keys).args(["--member", "robot-0"]);
    }
    let member = private.map(|dir| PrivateSwarm::coordinator(dir.to_path_buf(), 1));
    let options = ZenohOptions { low_latency, connect: vec![endpoint.clone()], private: member, ..Default::default() };
    let cfg = zenoh_config(&options).expect("config");
    let _agent = Agent(agent.spawn().expect("start murmur agent"));
    let session = zenoh::open(cfg).wait().expect("zenoh session");
    let base = format!("murmur/{swarm}/agent/0");
    let start = Instant::now();
    while session
        .liveliness()
        .get(&base)
        .wait()
        .expect("get")
        .recv_timeout(Duration::from_secs(1))
        .ok()
        .flatten()
        .is_none()
    {
        assert!(start.elapsed() < Duration::from_secs(60), "the agent never came up");
    }
    let publisher = session
        .declare_publisher(format!("{base}/obs"))
        .congestion_control(CongestionControl::Block)
        .express(true)
        .wait()
        .expect("publisher");
    // Arrival is stamped in Zenoh's receive callback: the figure is the
    // network and the agent, not this thread's wake-up after a hand-off.
    let (tx, arrivals) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let _actions = session
        .declare_subscriber(format!("{base}/act"))
        .callback(move |sample| {
            let at = Instant::now();
            let _ = tx.send((at, sample.payload().to_bytes().into_owned()));
        })
        .wait()
        .expect("subscriber");
    let mut buf = [0u8; MAX_MESSAGE_BYTES];
    let mut times = Vec::with_capacity(n);
    let warm_up = 500;
    for k in 0..n + warm_up {
        let step = (k % 25) as u32;
        let obs: Vec<f32> = (0..SPEC.obs_dim).map(|i| ((i + k) % 7) as f32 * 0.3 - 1.0).collect();
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session: 1,
            episode: (k / 25) as u64,
            step,
            reset: step == 0,
            obs: heapless::Vec::from_slice(&obs).expect("fits"),
            avail: heapless::Vec::from_slice(&[1.0; 5]).expect("fits"),
        };
        let payload = msg.encode(&mut buf).expect("encode").to_vec();
        let sent = Instant::now();
        publisher.put(payload).wait().expect("put");
        let (at, reply) = loop {
            let (at, bytes) = arrivals.recv_timeout(Duration::from_secs(5)).expect("an answer in 5 s");
            let a = ActionMsg::decode(&bytes, &SPEC).expect("action message");
            if a.step == step && a.source == ActionSource::Policy {
                break (at, a);
            }
        };
        let rtt = at.duration_since(sent).as_secs_f64() * 1e6;
        assert_eq!(reply.probs.len(), 5);
        if k >= warm_up {
            times.push(rtt);
        }
    }
    let _ = session.close().wait();
    times.sort_by(f64::total_cmp);
    times
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 10_000 } else { 200 };
    let dir = tempfile::tempdir().expect("temp dir");
    let (onnx, nano) = models(dir.path());
    let keys = dir.path().join("keys");
    murmur::pki::init(&keys, "bench").expect("authority");
    for member in ["coordinator", "robot-0"] {
        murmur::pki::issue(&keys, member).expect("certificate");
    }
    for (swarm_kind, private) in [("open swarm", None), ("private swarm (mutual TLS)", Some(keys.as_path()))] {
        for low_latency in [false, true] {
            for (backend, model) in [("nano", &nano), ("onnx", &onnx)] {
                let t = round_trips(model, backend, n, low_latency, private);
                let q = |p: f64| t[((p * t.len() as f64).ceil() as usize).clamp(1, t.len()) - 1];
                let transport = if low_latency { "low-latency transport" } else { "default transport" };
                println!(
                "zenoh round trip observation -> murmur agent ({backend}) -> action, loopback, {swarm_kind}, {transport}, {n} trips: p50 {:.0} us, p99 {:.0} us, max {:.0} us",
                q(0.5),
                q(0.99),
                t[t.len() - 1]
            );
            }
        }
    }
}
