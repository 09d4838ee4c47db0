//! The episode coordinator: runs hardware-in-the-loop episodes. Each step
//! it reads the world from the [`RobotBridge`], sends every robot its
//! observation, gathers the actions the robots computed on board, applies
//! them, lets the server-side critic read the step and records it.
//!
//! Pacing:
//! - lockstep: a step ends when every robot in the team has answered, or
//!   at the step timeout;
//! - realtime: a step ends at its tick (`1/hz` after the previous one),
//!   whatever has arrived; the world keeps its rate.
//!
//! A robot with no usable answer by the deadline gets the safe action (a
//! deadline miss, counted per robot). A robot whose liveliness token goes
//! away leaves the team until the episode ends (the safe action stands in
//! for it, the episode is flagged incomplete) and rejoins at the next
//! episode start once its token is back. Payloads that are not a current
//! answer are refused and counted, never applied.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use murmur_runtime::wire::{CriticMsg, ObservationMsg, MAX_CRITIC_BYTES, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur_runtime::ActorSpec;

use crate::bridge::RobotBridge;
use crate::collector::StepCollector;
use crate::critic_server::ServerCritic;
use crate::link::SwarmLink;
use crate::recorder::{Dataset, EpisodeRecord, Origin, StepRecord};
use crate::summary::{EpisodeSummary, HilSummary};
use crate::HwError;

/// How steps are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// Wait for every robot (up to the step timeout), then step.
    Lockstep,
    /// Step at a fixed rate; late robots get the safe action.
    Realtime {
        /// Steps per second.
        hz: f64,
    },
}

/// The coordinator's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct HilOptions {
    /// Episodes to run.
    pub episodes: usize,
    /// Step pacing.
    pub pacing: Pacing,
    /// Lockstep: the longest wait for a step's answers.
    pub step_timeout: Duration,
    /// How long to wait for the whole team before the first episode.
    pub join_timeout: Duration,
    /// How long to wait for missing robots before each later episode.
    pub rejoin_wait: Duration,
    /// The action applied for robots without a usable answer.
    pub safe_action: usize,
    /// Seed of the episodes' start states (episode k uses a seed derived
    /// from it and k).
    pub seed: u64,
}

impl Default for HilOptions {
    fn default() -> Self {
        Self {
            episodes: 10,
            pacing: Pacing::Lockstep,
            step_timeout: Duration::from_millis(200),
            join_timeout: Duration::from_secs(30),
            rejoin_wait: Duration::from_secs(2),
            safe_action: 0,
            seed: 1,
        }
    }
}

/// How often a waiting step checks which robots are still up.
const PRESENCE_POLL: Duration = Duration::from_millis(20);

/// The environment seed of episode `episode` in a run seeded `seed`.
pub fn episode_seed(seed: u64, episode: u64) -> u64 {
    seed ^ episode.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs episodes over a bridge and a swarm link.
pub struct Coordinator<B: RobotBridge> {
    bridge: B,
    link: SwarmLink,
    critic: Option<ServerCritic>,
    dataset: Option<Dataset>,
    options: HilOptions,
    spec: ActorSpec,
}

impl<B: RobotBridge> Coordinator<B> {
    /// A coordinator for the team behind `bridge`, talking over `link`,
    /// with an optional server-side critic and recorder.
    pub fn new(
        bridge: B,
        link: SwarmLink,
        critic: Option<ServerCritic>,
        dataset: Option<Dataset>,
        options: HilOptions,
    ) -> Result<Self, HwError> {
        let d = bridge.dims();
        // Only the action-message checks use the spec; the robots' hidden
        // width is theirs.
        let spec = ActorSpec { obs_dim: d.obs_dim, n_actions: d.n_actions, n_agents: d.n_agents, hidden: 1 };
        if options.safe_action >= d.n_actions {
            return Err(HwError::Options(format!(
                "safe action {} is not an action of `{}` (it has {})",
                options.safe_action,
                bridge.name(),
                d.n_actions
            )));
        }
        if let Pacing::Realtime { hz } = options.pacing {
            if !(hz > 0.0 && hz.is_finite()) {
                return Err(HwError::Options(format!("--hz must be a positive rate, got {hz}")));
            }
        }
        if let Some(c) = &critic {
            let cd = c.dims();
            if (cd.n_agents, cd.obs_dim, cd.state_dim, cd.n_actions)
                != (d.n_agents, d.obs_dim, d.state_dim, d.n_actions)
                || cd.episode_limit < d.episode_limit
            {
                return Err(HwError::Critic(format!(
                    "the critic was trained on a team of {cd:?}, the bridge `{}` has {d:?}",
                    bridge.name()
                )));
            }
        }
        Ok(Self { bridge, link, critic, dataset, options, spec })
    }

    /// Runs the episodes (until `stop` is set), calling `on_episode` after
    /// each; returns the run's summary. An episode cut by `stop` is
    /// recorded, flagged incomplete.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        mut on_episode: impl FnMut(&EpisodeSummary),
    ) -> Result<HilSummary, HwError> {
        let missing = self.link.wait_for_all(self.options.join_timeout);
        if !missing.is_empty() {
            return Err(HwError::AgentsMissing {
                swarm: self.link.swarm().to_string(),
                missing,
                waited: self.options.join_timeout,
            });
        }
        let first = self.dataset.as_ref().map_or(1, Dataset::next_episode);
        let started = Instant::now();
        let mut summary = HilSummary::default();
        let mut collector = StepCollector::new(self.spec);
        for k in 0..self.options.episodes as u64 {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let episode = self.run_episode(first + k, &mut collector, &mut summary, stop)?;
            on_episode(&episode);
            summary.episodes.push(episode);
        }
        summary.rejected = collector.rejected();
        summary.wall = started.elapsed();
        Ok(summary)
    }

    fn run_episode(
        &mut self,
        episode: u64,
        collector: &mut StepCollector,
        summary: &mut HilSummary,
        stop: &AtomicBool,
    ) -> Result<EpisodeSummary, HwError> {
        let d = self.bridge.dims();
        let (n, o, a) = (d.n_agents, d.obs_dim, d.n_actions);
        if self.link.presence().alive.iter().any(|&up| !up) {
            self.link.wait_for_all(self.options.rejoin_wait);
        }
        let presence = self.link.presence();
        let mut in_team = presence.alive.clone();
        let departures = presence.departures;
        let seed = episode_seed(self.options.seed, episode);
        let mut record = EpisodeRecord::new(episode, seed);
        let absent: Vec<usize> = (0..n).filter(|&i| !in_team[i]).collect();
        if !absent.is_empty() {
            record.mark_incomplete(format!("robots {absent:?} absent at the start"));
        }
        self.bridge.reset(seed)?;
        if let Some(c) = &mut self.critic {
            c.begin_episode();
        }
        let period = match self.options.pacing {
            Pacing::Lockstep => None,
            Pacing::Realtime { hz } => Some(Duration::from_secs_f64(1.0 / hz)),
        };
        let mut misses = vec![0u64; n];
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let mut obs_msg = ObservationMsg {
            version: WIRE_VERSION,
            episode,
            step: 0,
            reset: true,
            obs: heapless::Vec::new(),
            avail: heapless::Vec::new(),
        };
        let ep_start = Instant::now();
        let mut tick = ep_start;
        let mut steps = 0usize;
        for t in 0..d.episode_limit {
            if stop.load(Ordering::Relaxed) {
                record.mark_incomplete(format!("run stopped at step {t}"));
                break;
            }
            if let Some(p) = period {
                // Realtime: the tick of step t; a late coordinator counts
                // an overrun and starts the step now.
                let due = ep_start + p.mul_f64(t as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else if now - due > p / 2 && t > 0 {
                    summary.overruns += 1;
                }
                tick = Instant::now();
            }
            // Robots that left since the episode began are out until it ends.
            for i in self.departed(&in_team, &departures) {
                in_team[i] = false;
                record.mark_incomplete(format!("robot {i} left at step {t}"));
                log::warn!("episode {episode}: robot {i} left at step {t}; the safe action stands in");
            }
            let mut step = StepRecord {
                state: vec![0.0; d.state_dim],
                obs: vec![0.0; n * o],
                avail: vec![0.0; n * a],
                ..Default::default()
            };
            self.bridge.state(&mut step.state)?;
            for i in 0..n {
                self.bridge.observe(i, &mut step.obs[i * o..(i + 1) * o], &mut step.avail[i * a..(i + 1) * a])?;
            }
            obs_msg.step = t as u32;
            obs_msg.reset = t == 0;
            let sent = Instant::now();
            for i in (0..n).filter(|&i| in_team[i]) {
                obs_msg.obs.clear();
                obs_msg.avail.clear();
                // Capacity was checked against the wire limits when the
                // link was made; an oversize task fails here by name.
                obs_msg.obs.extend_from_slice(&step.obs[i * o..(i + 1) * o]).map_err(|_| capacity("obs_dim", o))?;
                obs_msg
                    .avail
                    .extend_from_slice(&step.avail[i * a..(i + 1) * a])
                    .map_err(|_| capacity("n_actions", a))?;
                let bytes = obs_msg.encode(&mut buf).map_err(|e| HwError::Options(e.to_string()))?;
                self.link.send_observation(i, bytes)?;
            }
            collector.begin(episode, t as u32, &in_team, sent);
            let deadline = match period {
                None => sent + self.options.step_timeout,
                Some(p) => tick + p,
            };
            let mut last_answer = sent;
            loop {
                if period.is_none() && collector.pending() == 0 {
                    break;
                }
                // Wait in slices, so a robot that dies mid-step is noticed
                // and not waited for until the deadline.
                let slice = deadline.min(Instant::now() + PRESENCE_POLL);
                match self.link.next_action(slice)? {
                    Some(r) => {
                        if collector.offer(r.agent, &r.payload, r.at) == crate::collector::Verdict::Accepted {
                            last_answer = r.at;
                        }
                    }
                    None if Instant::now() >= deadline => break,
                    None => {
                        for i in self.departed(&in_team, &departures) {
                            collector.withdraw(i);
                            in_team[i] = false;
                            record.mark_incomplete(format!("robot {i} left at step {t}"));
                            log::warn!("episode {episode}: robot {i} left at step {t}; the safe action stands in");
                        }
                    }
                }
            }
            let all_in = collector.pending() == 0;
            step.step_us = if all_in {
                last_answer.saturating_duration_since(sent).as_secs_f32() * 1e6
            } else {
                deadline.saturating_duration_since(sent).as_secs_f32() * 1e6
            };
            let mut actions = vec![self.options.safe_action; n];
            let mut probs: Vec<Vec<f32>> = vec![Vec::new(); n];
            step.probs = vec![0.0; n * a];
            for i in 0..n {
                let (origin, miss) = match &collector.answers()[i] {
                    Some(ans) => {
                        actions[i] = ans.action;
                        if ans.probs.len() == a {
                            step.probs[i * a..(i + 1) * a].copy_from_slice(&ans.probs);
                        }
                        probs[i] = ans.probs.clone();
                        step.inference_us.push(ans.inference_us);
                        step.answer_us.push(ans.latency.as_secs_f32() * 1e6);
                        record.metadata_once(format!("model_sha256.{i}"), hex(&ans.model_sha256));
                        (ans.origin, 0)
                    }
                    None => {
                        step.inference_us.push(0);
                        step.answer_us.push(f32::NAN);
                        if collector.asked(i) {
                            misses[i] += 1;
                            (Origin::Missed, 1)
                        } else {
                            (Origin::Absent, 0)
                        }
                    }
                };
                step.origin.push(origin as u8);
                step.deadline_miss.push(miss);
            }
            step.actions = actions.iter().map(|&x| x as i64).collect();
            if let Some(c) = &mut self.critic {
                if let Some(reading) = c.read_step(&step.state, &step.obs, &step.avail, &actions, &probs)? {
                    let msg = CriticMsg {
                        version: WIRE_VERSION,
                        episode,
                        step: t as u32,
                        value: reading.value,
                        advantage: reading
                            .advantage
                            .as_deref()
                            .and_then(|v| heapless::Vec::from_slice(v).ok())
                            .unwrap_or_default(),
                    };
                    let mut cbuf = [0u8; MAX_CRITIC_BYTES];
                    if let Ok(bytes) = msg.encode(&mut cbuf) {
                        self.link.send_critic(bytes)?;
                    }
                    step.critic_value = Some(reading.value);
                    step.critic_advantage = reading.advantage;
                }
            }
            let outcome = self.bridge.apply(&actions)?;
            step.reward = outcome.reward as f32;
            step.agent_rewards = self.bridge.agent_rewards().map(|r| r.iter().map(|&x| x as f32).collect());
            step.terminated = outcome.terminated;
            step.truncated = outcome.truncated;
            step.time_s = ep_start.elapsed().as_secs_f64();
            summary.step_us.push(step.step_us);
            record.push(step);
            steps += 1;
            if outcome.done() {
                break;
            }
        }
        let mut state = vec![0.0; d.state_dim];
        let (mut obs, mut avail) = (vec![0.0; n * o], vec![0.0; n * a]);
        self.bridge.state(&mut state)?;
        for i in 0..n {
            self.bridge.observe(i, &mut obs[i * o..(i + 1) * o], &mut avail[i * a..(i + 1) * a])?;
        }
        record.finish(state, obs, avail);
        if let Some(ds) = &mut self.dataset {
            ds.write(&record)?;
        }
        Ok(EpisodeSummary {
            episode,
            steps,
            episode_return: record.episode_return(),
            incomplete_reason: record.incomplete_reason.clone(),
            deadline_misses: misses,
        })
    }

    /// Robots of `in_team` that have left since the episode began (token
    /// gone now, or gone and back: a restarted agent lost its state).
    fn departed(&self, in_team: &[bool], departures: &[u64]) -> Vec<usize> {
        let now = self.link.presence();
        (0..in_team.len()).filter(|&i| in_team[i] && (!now.alive[i] || now.departures[i] > departures[i])).collect()
    }

    /// Closes the Zenoh session.
    pub fn close(self) {
        self.link.close();
    }
}

fn capacity(field: &str, got: usize) -> HwError {
    HwError::Options(format!("the task's {field} is {got}, more than the wire carries"))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
