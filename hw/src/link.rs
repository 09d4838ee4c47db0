//! The coordinator's side of the wire (DESIGN.md, "Wire"): one publisher
//! per robot's observation key, one subscriber on every robot's action key,
//! the robots' liveliness tokens, and the critic's monitoring key.
//!
//! ```text
//! murmur/<swarm>/agent/<id>/obs   published:  ObservationMsg
//! murmur/<swarm>/agent/*/act      subscribed: ActionMsg (the id comes from the key)
//! murmur/<swarm>/agent/*          liveliness: which robots are up
//! murmur/<swarm>/critic/value     published:  CriticMsg
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zenoh::handlers::FifoChannelHandler;
use zenoh::pubsub::{Publisher, Subscriber};
use zenoh::qos::CongestionControl;
use zenoh::sample::{Sample, SampleKind};
use zenoh::Wait;

use crate::HwError;

/// Which robots hold a liveliness token, and how often each has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// Robot `i` is up now.
    pub alive: Vec<bool>,
    /// Times robot `i`'s token went away since the link opened.
    pub departures: Vec<u64>,
}

/// A received action payload.
#[derive(Debug, Clone)]
pub struct Received {
    /// The robot id in the key (`None` when the key holds no number).
    pub agent: Option<usize>,
    /// The payload.
    pub payload: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

/// The coordinator's Zenoh session and declarations.
pub struct SwarmLink {
    session: zenoh::Session,
    swarm: String,
    /// `murmur/<swarm>/agent/`: robot ids follow it in every key.
    prefix: String,
    observations: Vec<Publisher<'static>>,
    actions: Subscriber<FifoChannelHandler<Sample>>,
    presence: Arc<Mutex<Presence>>,
    _liveliness: Subscriber<()>,
    critic: Publisher<'static>,
}

fn zenoh_err(what: impl std::fmt::Display) -> impl Fn(zenoh::Error) -> HwError {
    move |e| HwError::Zenoh(format!("{what}: {e}"))
}

/// The robot id in `murmur/<swarm>/agent/<id>[/...]`.
fn agent_id(key: &str, prefix: &str) -> Option<usize> {
    key.strip_prefix(prefix)?.split('/').next()?.parse().ok()
}

impl SwarmLink {
    /// Opens a session with `config` and declares everything for a team of
    /// `n_agents` robots in swarm `swarm`.
    pub fn open(config: zenoh::Config, swarm: &str, n_agents: usize) -> Result<Self, HwError> {
        let session = zenoh::open(config).wait().map_err(zenoh_err("open"))?;
        let prefix = format!("murmur/{swarm}/agent/");
        let observations = (0..n_agents)
            .map(|i| {
                let key = format!("{prefix}{i}/obs");
                session
                    .declare_publisher(key.clone())
                    .congestion_control(CongestionControl::Block)
                    .express(true)
                    .wait()
                    .map_err(zenoh_err(format!("declare publisher {key}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let act_key = format!("{prefix}*/act");
        let actions = session
            .declare_subscriber(act_key.clone())
            .with(zenoh::handlers::FifoChannel::new(4096))
            .wait()
            .map_err(zenoh_err(format!("declare subscriber {act_key}")))?;
        let presence = Arc::new(Mutex::new(Presence { alive: vec![false; n_agents], departures: vec![0; n_agents] }));
        let seen = Arc::clone(&presence);
        let live_prefix = prefix.clone();
        let liveliness = session
            .liveliness()
            .declare_subscriber(format!("{prefix}*"))
            .history(true)
            .callback(move |sample: Sample| {
                let Some(i) = agent_id(sample.key_expr().as_str(), &live_prefix) else { return };
                let Ok(mut p) = seen.lock() else { return };
                if i >= p.alive.len() {
                    return;
                }
                match sample.kind() {
                    SampleKind::Put => p.alive[i] = true,
                    SampleKind::Delete => {
                        if p.alive[i] {
                            p.departures[i] += 1;
                        }
                        p.alive[i] = false;
                    }
                }
            })
            .wait()
            .map_err(zenoh_err("declare liveliness subscriber"))?;
        let critic_key = format!("murmur/{swarm}/critic/value");
        let critic = session
            .declare_publisher(critic_key.clone())
            .congestion_control(CongestionControl::Drop)
            .wait()
            .map_err(zenoh_err(format!("declare publisher {critic_key}")))?;
        Ok(Self {
            session,
            swarm: swarm.to_string(),
            prefix,
            observations,
            actions,
            presence,
            _liveliness: liveliness,
            critic,
        })
    }

    /// The swarm's name.
    pub fn swarm(&self) -> &str {
        &self.swarm
    }

    /// Which robots are up now.
    pub fn presence(&self) -> Presence {
        self.presence.lock().map(|p| p.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Waits until every robot is up or `timeout` passes; returns the ids
    /// still missing (empty when all are up).
    pub fn wait_for_all(&self, timeout: Duration) -> Vec<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let missing: Vec<usize> =
                self.presence().alive.iter().enumerate().filter(|(_, &a)| !a).map(|(i, _)| i).collect();
            if missing.is_empty() || Instant::now() >= deadline {
                return missing;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Publishes an encoded observation to robot `agent`.
    pub fn send_observation(&self, agent: usize, payload: &[u8]) -> Result<(), HwError> {
        self.observations[agent]
            .put(payload.to_vec())
            .wait()
            .map_err(zenoh_err(format!("publish observation to robot {agent}")))
    }

    /// Publishes an encoded critic message.
    pub fn send_critic(&self, payload: &[u8]) -> Result<(), HwError> {
        self.critic.put(payload.to_vec()).wait().map_err(zenoh_err("publish critic output"))
    }

    /// The next action payload, waiting until `deadline` at most.
    pub fn next_action(&self, deadline: Instant) -> Result<Option<Received>, HwError> {
        let sample = self.actions.recv_deadline(deadline).map_err(zenoh_err("action subscriber closed"))?;
        Ok(sample.map(|s| Received {
            agent: agent_id(s.key_expr().as_str(), &self.prefix),
            payload: s.payload().to_bytes().into_owned(),
            at: Instant::now(),
        }))
    }

    /// Closes the session (the declarations go with it).
    pub fn close(self) {
        let _ = self.session.close().wait();
    }
}

#[cfg(test)]
mod tests {
    use super::agent_id;

    #[test]
    fn robot_ids_come_from_the_key() {
        let p = "murmur/s/agent/";
        assert_eq!(agent_id("murmur/s/agent/12/act", p), Some(12));
        assert_eq!(agent_id("murmur/s/agent/3", p), Some(3));
        assert_eq!(agent_id("murmur/s/agent/x/act", p), None);
        assert_eq!(agent_id("murmur/other/agent/1/act", p), None);
    }
}
