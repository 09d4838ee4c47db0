//! The coordinator's [`SwarmTransport`] over Zenoh (docs/design.md,
//! "Wire"): one publisher per robot's observation key, one subscriber on
//! every robot's action key, the robots' liveliness tokens, and the
//! critic's monitoring key (names from `murmur_runtime::keys`).
//!
//! ```text
//! murmur/<swarm>/agent/<id>/obs   published:  ObservationMsg
//! murmur/<swarm>/agent/*/act      subscribed: ActionMsg (the id comes from the key)
//! murmur/<swarm>/agent/*          liveliness: which robots are up
//! murmur/<swarm>/critic/value     published:  CriticMsg
//! ```

use std::sync::{Arc, Mutex};
use std::time::Instant;

use zenoh::handlers::FifoChannelHandler;
use zenoh::pubsub::{Publisher, Subscriber};
use zenoh::qos::CongestionControl;
use zenoh::sample::{Sample, SampleKind};
use zenoh::Wait;

use murmur_runtime::keys;

use crate::transport::{Presence, Received, SwarmTransport};
use crate::{HwError, OptionsProblem};

/// The coordinator's Zenoh session and declarations.
pub struct SwarmLink {
    session: zenoh::Session,
    swarm: String,
    observations: Vec<Publisher<'static>>,
    actions: Subscriber<FifoChannelHandler<Sample>>,
    presence: Arc<Mutex<Tokens>>,
    _liveliness: Subscriber<()>,
    critic: Publisher<'static>,
}

/// What the liveliness subscriber saw.
struct Tokens {
    presence: Presence,
    /// A token on robot i's key went away: is it the robot's?
    gone: Vec<bool>,
}

/// How long a departure check waits for a token on a robot's key.
const TOKEN_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

fn zenoh_err(what: impl std::fmt::Display) -> impl Fn(zenoh::Error) -> HwError {
    move |source| HwError::Zenoh { what: what.to_string(), source }
}

impl SwarmLink {
    /// Opens a session with `config` and declares everything for a team of
    /// `n_agents` robots in swarm `swarm`.
    pub fn open(config: zenoh::Config, swarm: &str, n_agents: usize) -> Result<Self, HwError> {
        let session = zenoh::open(config).wait().map_err(zenoh_err("open"))?;
        let observations = (0..n_agents)
            .map(|i| {
                let key = keys::observation(swarm, i);
                session
                    .declare_publisher(key.clone())
                    .congestion_control(CongestionControl::Block)
                    .express(true)
                    .wait()
                    .map_err(zenoh_err(format!("declare publisher {key}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let act_key = keys::actions(swarm);
        let actions = session
            .declare_subscriber(act_key.clone())
            .with(zenoh::handlers::FifoChannel::new(4096))
            .wait()
            .map_err(zenoh_err(format!("declare subscriber {act_key}")))?;
        let presence = Arc::new(Mutex::new(Tokens {
            presence: Presence { alive: vec![false; n_agents], departures: vec![0; n_agents] },
            gone: vec![false; n_agents],
        }));
        let seen = Arc::clone(&presence);
        let live_swarm = swarm.to_string();
        let liveliness = session
            .liveliness()
            .declare_subscriber(keys::agent_tokens(swarm))
            .history(true)
            .callback(move |sample: Sample| {
                let Some(i) = keys::agent_id(sample.key_expr().as_str(), &live_swarm) else { return };
                let Ok(mut t) = seen.lock() else { return };
                if i >= t.gone.len() {
                    return;
                }
                match sample.kind() {
                    SampleKind::Put => {
                        t.presence.alive[i] = true;
                        t.gone[i] = false;
                    }
                    // Anyone may declare and drop a token on robot i's key:
                    // the departure is confirmed in `presence`.
                    SampleKind::Delete => t.gone[i] = true,
                }
            })
            .wait()
            .map_err(zenoh_err("declare liveliness subscriber"))?;
        let critic_key = keys::critic_value(swarm);
        let critic = session
            .declare_publisher(critic_key.clone())
            .congestion_control(CongestionControl::Drop)
            .wait()
            .map_err(zenoh_err(format!("declare publisher {critic_key}")))?;
        Ok(Self { session, swarm: swarm.to_string(), observations, actions, presence, _liveliness: liveliness, critic })
    }
}

impl SwarmLink {
    /// Whether a liveliness token is declared on robot `i`'s key now.
    fn token_alive(&self, i: usize) -> bool {
        let key = keys::agent_token(&self.swarm, i);
        let Ok(replies) = self.session.liveliness().get(&key).timeout(TOKEN_CHECK).wait() else { return false };
        while let Ok(reply) = replies.recv() {
            if reply.result().is_ok_and(|s| s.kind() == SampleKind::Put) {
                return true;
            }
        }
        false
    }
}

impl SwarmTransport for SwarmLink {
    fn swarm(&self) -> &str {
        &self.swarm
    }

    /// Which robots are up. A robot counts as gone when a token on its key
    /// went away and no token is left there: a stranger who declares and
    /// drops a token on a robot's key does not remove the robot.
    fn presence(&self) -> Presence {
        let gone: Vec<usize> = {
            let t = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            t.gone.iter().enumerate().filter(|&(_, &g)| g).map(|(i, _)| i).collect()
        };
        for i in gone {
            let still_there = self.token_alive(i);
            let mut t = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            if !t.gone[i] {
                continue; // a new token came meanwhile
            }
            t.gone[i] = false;
            if !still_there && t.presence.alive[i] {
                t.presence.alive[i] = false;
                t.presence.departures[i] += 1;
            }
        }
        self.presence.lock().map(|t| t.presence.clone()).unwrap_or_else(|e| e.into_inner().presence.clone())
    }

    fn send_observation(&self, agent: usize, payload: &[u8]) -> Result<(), HwError> {
        let team = self.observations.len();
        let publisher = self.observations.get(agent).ok_or(OptionsProblem::NoSuchRobot { agent, team })?;
        publisher.put(payload.to_vec()).wait().map_err(zenoh_err(format!("publish observation to robot {agent}")))
    }

    fn send_critic(&self, payload: &[u8]) -> Result<(), HwError> {
        self.critic.put(payload.to_vec()).wait().map_err(zenoh_err("publish critic output"))
    }

    fn next_action(&self, deadline: Instant) -> Result<Option<Received>, HwError> {
        let sample = self.actions.recv_deadline(deadline).map_err(zenoh_err("action subscriber closed"))?;
        Ok(sample.map(|s| Received {
            agent: keys::agent_id(s.key_expr().as_str(), &self.swarm),
            payload: s.payload().to_bytes().into_owned(),
            at: Instant::now(),
        }))
    }

    /// Closes the session (the declarations go with it).
    fn close(self) {
        let _ = self.session.close().wait();
    }
}
