//! The coordinator runs over any `SwarmTransport`: an in-process double of
//! a few dozen lines (robots that always take action 1, and one that also
//! sends junk) drives whole spread episodes with no network, and the
//! coordinator counts and refuses what the double sends wrong.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use murmur_hw::coordinator::{Coordinator, HilOptions};
use murmur_hw::transport::{Presence, Received, SwarmTransport};
use murmur_hw::{HwError, SimulatedBridge};
use murmur_runtime::wire::{ActionMsg, ActionSource, ObservationMsg, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur_runtime::WireDims;
use murmur_train::env::{Environment, Spread, SpreadConfig};

/// Robots living inside the transport: each observation is answered at
/// once with action 1; robot 2 also sends a junk payload every step.
struct InProcessSwarm {
    dims: WireDims,
    answers: RefCell<VecDeque<Received>>,
}

impl SwarmTransport for InProcessSwarm {
    fn swarm(&self) -> &str {
        "in-process"
    }

    fn presence(&self) -> Presence {
        Presence { alive: vec![true; self.dims.n_agents], departures: vec![0; self.dims.n_agents] }
    }

    fn send_observation(&self, agent: usize, payload: &[u8]) -> Result<(), HwError> {
        let obs = ObservationMsg::decode(payload, &self.dims).expect("the coordinator sends well-formed observations");
        let msg = ActionMsg {
            version: WIRE_VERSION,
            session: obs.session,
            episode: obs.episode,
            step: obs.step,
            action: 1,
            source: ActionSource::Policy,
            probs: heapless::Vec::new(),
            inference_us: 1,
            model_sha256: [7; 32],
        };
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let bytes = msg.encode(&mut buf).expect("an action message encodes").to_vec();
        let mut answers = self.answers.borrow_mut();
        if agent == 2 {
            answers.push_back(Received { agent: Some(agent), payload: vec![0xff; 3], at: Instant::now() });
        }
        answers.push_back(Received { agent: Some(agent), payload: bytes, at: Instant::now() });
        Ok(())
    }

    fn next_action(&self, _deadline: Instant) -> Result<Option<Received>, HwError> {
        Ok(self.answers.borrow_mut().pop_front())
    }

    fn send_critic(&self, _payload: &[u8]) -> Result<(), HwError> {
        Ok(())
    }
}

#[test]
fn the_coordinator_runs_whole_episodes_over_an_in_process_transport() {
    let env = Spread::new(SpreadConfig::default());
    let dims = WireDims { obs_dim: env.obs_dim(), n_actions: env.n_actions(), n_agents: env.n_agents() };
    let limit = env.episode_limit();
    let swarm = InProcessSwarm { dims, answers: RefCell::new(VecDeque::new()) };
    let bridge = SimulatedBridge::new("spread", Box::new(env));
    let options = HilOptions { episodes: 2, step_timeout: Duration::from_millis(200), ..Default::default() };
    let mut coordinator = Coordinator::new(bridge, swarm, None, None, options).unwrap();
    let summary = coordinator.run(&AtomicBool::new(false), |_| {}).unwrap();

    assert_eq!(summary.episodes.len(), 2);
    for e in &summary.episodes {
        assert_eq!(e.steps, limit, "episode {} ended early", e.episode);
        assert!(e.incomplete_reason.is_none(), "{:?}", e.incomplete_reason);
        assert_eq!(e.deadline_misses, vec![0; 3], "every robot answered every step");
    }
    // Robot 2's junk, one payload a step, was refused as malformed and
    // never applied.
    assert_eq!(summary.rejected.malformed, 2 * limit as u64);
    assert_eq!(summary.rejected.total(), summary.rejected.malformed);
}
