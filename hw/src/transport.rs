//! How the coordinator talks to its robots, whatever carries the messages:
//! send a robot its observation, collect answers until a deadline, know
//! which robots are up, publish the critic's readings. Payloads are the
//! encoded wire messages of `murmur_runtime::wire`; a transport moves bytes
//! and says which robot they came from. [`crate::link::SwarmLink`] (Zenoh)
//! is the first implementation; a ROS 2 binding or a test double is one
//! more file implementing [`SwarmTransport`].

use std::time::{Duration, Instant};

use crate::HwError;

/// Which robots are up, and how often each has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presence {
    /// Robot `i` is up now.
    pub alive: Vec<bool>,
    /// Times robot `i` went away since the transport opened.
    pub departures: Vec<u64>,
}

impl Presence {
    /// Ids of the robots that are not up.
    pub fn missing(&self) -> Vec<usize> {
        self.alive.iter().enumerate().filter(|(_, &a)| !a).map(|(i, _)| i).collect()
    }
}

/// A received action payload.
#[derive(Debug, Clone)]
pub struct Received {
    /// The robot the transport says sent it (`None` when it cannot tell).
    pub agent: Option<usize>,
    /// The encoded `ActionMsg`.
    pub payload: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

/// The coordinator's side of a swarm's messages.
pub trait SwarmTransport {
    /// The swarm's name (for messages and logs).
    fn swarm(&self) -> &str;

    /// Which robots are up now.
    fn presence(&self) -> Presence;

    /// Sends robot `agent` an encoded `ObservationMsg`.
    fn send_observation(&self, agent: usize, payload: &[u8]) -> Result<(), HwError>;

    /// The next action payload from any robot, waiting until `deadline` at
    /// most (`None` when none came).
    fn next_action(&self, deadline: Instant) -> Result<Option<Received>, HwError>;

    /// Publishes an encoded `CriticMsg` for monitors.
    fn send_critic(&self, payload: &[u8]) -> Result<(), HwError>;

    /// Waits until every robot is up or `timeout` passes; returns the ids
    /// still missing (empty when all are up).
    fn wait_for_all(&self, timeout: Duration) -> Vec<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let missing = self.presence().missing();
            if missing.is_empty() || Instant::now() >= deadline {
                return missing;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes the transport (default: nothing to do).
    fn close(self)
    where
        Self: Sized,
    {
    }
}
