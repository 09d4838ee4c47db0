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

use murmur_runtime::agent::hex;
use murmur_runtime::wire::{CriticMsg, ObservationMsg, MAX_CRITIC_BYTES, MAX_MESSAGE_BYTES, WIRE_VERSION};
use murmur_runtime::WireDims;

use crate::bridge::RobotBridge;
use crate::collector::{StepCollector, Verdict};
use crate::critic_server::{CriticProblem, ServerCritic};
use crate::link::SwarmLink;
use crate::recorder::{DatasetWriter, EpisodeRecord, Origin, StepRecord};
use crate::summary::{EpisodeSummary, HilSummary};
use crate::transport::SwarmTransport;
use crate::{HwError, OptionsProblem};

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

/// An episode's team: who takes part, and what it has recorded so far.
struct Team {
    /// Robot `i` is in the team (asked for actions) this step.
    in_team: Vec<bool>,
    /// Each robot's departure count when the episode began.
    departures: Vec<u64>,
    /// The episode being recorded.
    record: EpisodeRecord,
    /// Deadline misses per robot.
    misses: Vec<u64>,
    /// Robot `i` is out of the bridge's sight this step (asked nothing,
    /// counted as missing).
    untracked: Vec<bool>,
}

/// How often a waiting step checks which robots are still up.
const PRESENCE_POLL: Duration = Duration::from_millis(20);

/// The environment seed of episode `episode` in a run seeded `seed`.
pub fn episode_seed(seed: u64, episode: u64) -> u64 {
    seed ^ episode.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs episodes over a bridge and a swarm transport (Zenoh's
/// [`SwarmLink`] unless said otherwise).
pub struct Coordinator<B: RobotBridge, L: SwarmTransport = SwarmLink> {
    bridge: B,
    link: L,
    critic: Option<ServerCritic>,
    dataset: Option<DatasetWriter>,
    options: HilOptions,
    spec: WireDims,
    session: u64,
}

/// A new coordinator session: microseconds since the Unix epoch, so a
/// restarted coordinator's session is later than the one before and
/// robots take it up, while the old session's messages are refused.
fn new_session() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl<B: RobotBridge, L: SwarmTransport> Coordinator<B, L> {
    /// A coordinator for the team behind `bridge`, talking over `link`,
    /// with an optional server-side critic and recorder.
    pub fn new(
        bridge: B,
        link: L,
        critic: Option<ServerCritic>,
        dataset: Option<DatasetWriter>,
        options: HilOptions,
    ) -> Result<Self, HwError> {
        let d = bridge.dims();
        let spec = WireDims { obs_dim: d.obs_dim, n_actions: d.n_actions, n_agents: d.n_agents };
        if options.safe_action >= d.n_actions {
            let task = bridge.name().to_string();
            return Err(OptionsProblem::SafeAction { action: options.safe_action, task, n_actions: d.n_actions }.into());
        }
        if let Pacing::Realtime { hz } = options.pacing {
            if !(hz > 0.0 && hz.is_finite()) {
                return Err(OptionsProblem::Rate(hz).into());
            }
        }
        if let Some(c) = &critic {
            let cd = c.dims();
            if (cd.n_agents, cd.obs_dim, cd.state_dim, cd.n_actions)
                != (d.n_agents, d.obs_dim, d.state_dim, d.n_actions)
                || cd.episode_limit < d.episode_limit
            {
                return Err(CriticProblem::OtherTeam { critic: cd, bridge: bridge.name().to_string(), team: d }.into());
            }
        }
        let session = new_session();
        log::info!("coordinator session {session}");
        Ok(Self { bridge, link, critic, dataset, options, spec, session })
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
        let first = self.dataset.as_ref().map_or(1, DatasetWriter::next_episode);
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
        summary.bridge_refused = self.bridge.refused_inputs();
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
        let n = self.bridge.dims().n_agents;
        if self.link.presence().alive.iter().any(|&up| !up) {
            self.link.wait_for_all(self.options.rejoin_wait);
        }
        let presence = self.link.presence();
        let seed = episode_seed(self.options.seed, episode);
        let mut team = Team {
            in_team: presence.alive,
            departures: presence.departures,
            record: EpisodeRecord::new(episode, seed),
            misses: vec![0; n],
            untracked: vec![false; n],
        };
        let absent: Vec<usize> = (0..n).filter(|&i| !team.in_team[i]).collect();
        if !absent.is_empty() {
            team.record.mark_incomplete(format!("robots {absent:?} absent at the start"));
        }
        self.bridge.reset(seed)?;
        // Wall-clock start, so recordings line up with other logs (MCAP).
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        team.record.metadata_once("started_unix_ns".into(), started.as_nanos().to_string());
        if let Some(c) = &mut self.critic {
            c.begin_episode();
        }
        let period = match self.options.pacing {
            Pacing::Lockstep => None,
            Pacing::Realtime { hz } => Some(Duration::from_secs_f64(1.0 / hz)),
        };
        let ep_start = Instant::now();
        let mut steps = 0usize;
        for t in 0..self.bridge.dims().episode_limit {
            if stop.load(Ordering::Relaxed) {
                team.record.mark_incomplete(format!("run stopped at step {t}"));
                break;
            }
            let mut tick = Instant::now();
            if let Some(p) = period {
                // Realtime: the tick of step t; a late coordinator counts
                // an overrun and starts the step now.
                let due = ep_start + p.mul_f64(t as f64);
                if due > tick {
                    std::thread::sleep(due - tick);
                } else if tick - due > p / 2 && t > 0 {
                    summary.overruns += 1;
                }
                tick = Instant::now();
            }
            // Robots that left since the episode began are out until it ends.
            self.drop_departed(&mut team, t, None);
            let mut step = self.read_world()?;
            step.pose = self.bridge.poses().map(|p| p.iter().flat_map(|xy| xy.map(|v| v as f32)).collect());
            // Robots the bridge cannot see are not asked: they miss the step.
            team.untracked.fill(false);
            self.bridge.untracked().into_iter().filter(|&i| i < n).for_each(|i| team.untracked[i] = true);
            let asked: Vec<bool> = (0..n).map(|i| team.in_team[i] && !team.untracked[i]).collect();
            let sent = self.send_observations(episode, t, &step, &asked)?;
            collector.begin(self.session, episode, t as u32, &asked, sent);
            // Realtime: answers are due by the next tick, so the rate holds
            // (a step that started late still gets half a period).
            let deadline = period
                .map_or(sent + self.options.step_timeout, |p| (ep_start + p.mul_f64((t + 1) as f64)).max(tick + p / 2));
            let last_answer = self.collect(collector, &mut team, t, deadline, period.is_some())?;
            step.step_us = last_answer.unwrap_or(deadline).saturating_duration_since(sent).as_secs_f32() * 1e6;
            let (actions, probs) = self.settle(collector, &mut team, &mut step);
            self.read_critic(episode, t, &mut step, &actions, &probs)?;
            let outcome = self.bridge.apply(&actions)?;
            step.reward = outcome.reward as f32;
            step.agent_rewards = self.bridge.agent_rewards().map(|r| r.iter().map(|&x| x as f32).collect());
            step.terminated = outcome.terminated;
            step.truncated = outcome.truncated;
            step.time_s = ep_start.elapsed().as_secs_f64();
            summary.step_us.push(step.step_us);
            team.record.push(step);
            steps += 1;
            if outcome.done() {
                break;
            }
        }
        let last = self.read_world()?;
        team.record.finish(last.state, last.obs, last.avail);
        if let Some(ds) = &mut self.dataset {
            ds.write(&team.record).map_err(HwError::Dataset)?;
        }
        Ok(EpisodeSummary {
            episode,
            steps,
            episode_return: team.record.episode_return(),
            incomplete_reason: team.record.incomplete_reason.clone(),
            deadline_misses: team.misses,
            won: self.bridge.won(),
        })
    }

    /// A step record holding the state, every robot's observation and every
    /// robot's mask, as the bridge sees the world now (robot-major).
    fn read_world(&mut self) -> Result<StepRecord, HwError> {
        let d = self.bridge.dims();
        let (n, o, a) = (d.n_agents, d.obs_dim, d.n_actions);
        let (mut state, mut obs, mut avail) = (vec![0.0; d.state_dim], vec![0.0; n * o], vec![0.0; n * a]);
        self.bridge.state(&mut state)?;
        for i in 0..n {
            self.bridge.observe(i, &mut obs[i * o..(i + 1) * o], &mut avail[i * a..(i + 1) * a])?;
        }
        Ok(StepRecord { state, obs, avail, ..Default::default() })
    }

    /// Sends step `t`'s observation to every robot in the team; returns
    /// when they went out.
    fn send_observations(
        &self,
        episode: u64,
        t: usize,
        step: &StepRecord,
        in_team: &[bool],
    ) -> Result<Instant, HwError> {
        let d = self.bridge.dims();
        let (o, a) = (d.obs_dim, d.n_actions);
        let mut msg = ObservationMsg {
            version: WIRE_VERSION,
            session: self.session,
            episode,
            step: t as u32,
            reset: t == 0,
            obs: heapless::Vec::new(),
            avail: heapless::Vec::new(),
        };
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let sent = Instant::now();
        for i in (0..in_team.len()).filter(|&i| in_team[i]) {
            msg.obs.clear();
            msg.avail.clear();
            // A task beyond the wire's capacities fails here, by name.
            msg.obs.extend_from_slice(&step.obs[i * o..(i + 1) * o]).map_err(|_| capacity("obs_dim", o))?;
            msg.avail.extend_from_slice(&step.avail[i * a..(i + 1) * a]).map_err(|_| capacity("n_actions", a))?;
            let bytes = msg.encode(&mut buf).map_err(|source| HwError::Encode { agent: i, source })?;
            self.link.send_observation(i, bytes)?;
        }
        Ok(sent)
    }

    /// Gathers answers until `deadline` (lockstep: or until every robot
    /// asked has answered); returns when the last accepted answer came, or
    /// `None` when some robot asked never answered.
    fn collect(
        &self,
        collector: &mut StepCollector,
        team: &mut Team,
        t: usize,
        deadline: Instant,
        realtime: bool,
    ) -> Result<Option<Instant>, HwError> {
        let mut last_answer = None;
        loop {
            if !realtime && collector.pending() == 0 {
                break;
            }
            // Wait in slices, so a robot that dies mid-step is noticed and
            // not waited for until the deadline.
            let slice = deadline.min(Instant::now() + PRESENCE_POLL);
            match self.link.next_action(slice)? {
                Some(r) => {
                    if collector.offer(r.agent, &r.payload, r.at) == Verdict::Accepted {
                        last_answer = Some(r.at);
                    }
                }
                None if Instant::now() >= deadline => break,
                None => self.drop_departed(team, t, Some(collector)),
            }
        }
        Ok(if collector.pending() == 0 { last_answer.or(Some(Instant::now())) } else { None })
    }

    /// Turns the step's answers into the actions applied (the safe action
    /// for robots without a usable answer) and records them; returns the
    /// actions and each robot's reported probabilities.
    fn settle(&self, collector: &StepCollector, team: &mut Team, step: &mut StepRecord) -> (Vec<usize>, Vec<Vec<f32>>) {
        let a = self.bridge.dims().n_actions;
        let n = team.in_team.len();
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
                    team.record.metadata_once(format!("model_sha256.{i}"), hex(&ans.model_sha256));
                    (ans.origin, 0)
                }
                None => {
                    step.inference_us.push(0);
                    step.answer_us.push(f32::NAN);
                    if collector.asked(i) || (team.in_team[i] && team.untracked[i]) {
                        team.misses[i] += 1;
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
        (actions, probs)
    }

    /// Lets the server-side critic read the step: publishes and records it.
    fn read_critic(
        &mut self,
        episode: u64,
        t: usize,
        step: &mut StepRecord,
        actions: &[usize],
        probs: &[Vec<f32>],
    ) -> Result<(), HwError> {
        let Some(c) = &mut self.critic else { return Ok(()) };
        let Some(reading) = c.read_step(&step.state, &step.obs, &step.avail, actions, probs)? else {
            return Ok(());
        };
        let msg = CriticMsg {
            version: WIRE_VERSION,
            episode,
            step: t as u32,
            value: reading.value,
            advantage: reading.advantage.as_deref().and_then(|v| heapless::Vec::from_slice(v).ok()).unwrap_or_default(),
        };
        let mut buf = [0u8; MAX_CRITIC_BYTES];
        if let Ok(bytes) = msg.encode(&mut buf) {
            self.link.send_critic(bytes)?;
        }
        step.critic_value = Some(reading.value);
        step.critic_advantage = reading.advantage;
        Ok(())
    }

    /// Takes robots that left since the episode began out of the team
    /// (and out of the step being collected), flagging the episode.
    fn drop_departed(&self, team: &mut Team, t: usize, collector: Option<&mut StepCollector>) {
        let gone = self.departed(&team.in_team, &team.departures);
        let episode = team.record.episode;
        for &i in &gone {
            team.in_team[i] = false;
            team.record.mark_incomplete(format!("robot {i} left at step {t}"));
            log::warn!("episode {episode}: robot {i} left at step {t}; the safe action stands in for it");
        }
        if let Some(c) = collector {
            gone.iter().for_each(|&i| c.withdraw(i));
        }
    }

    /// Robots of `in_team` that have left since the episode began (token
    /// gone now, or gone and back: a restarted agent lost its state).
    fn departed(&self, in_team: &[bool], departures: &[u64]) -> Vec<usize> {
        let now = self.link.presence();
        (0..in_team.len()).filter(|&i| in_team[i] && (!now.alive[i] || now.departures[i] > departures[i])).collect()
    }

    /// Closes the transport.
    pub fn close(self) {
        self.link.close();
    }
}

fn capacity(field: &'static str, got: usize) -> HwError {
    OptionsProblem::BeyondWire { field, got }.into()
}
