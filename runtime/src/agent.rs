//! The robot's decision loop, apart from any transport: payloads in,
//! commands out, and the failsafes between.
//!
//! An [`Agent`] owns a [`Policy`] and an [`Actuator`] (the integrator's
//! hook to the motors). An observation is answered only if it is the
//! coordinator's next one: every observation carries the coordinator's
//! session and its (episode, step), and
//! - a new session is taken up only at an episode start (the reset flag),
//!   and only if it is later than the current one (sessions are the
//!   coordinator's start time);
//! - within the session, (episode, step) must be later than the last one
//!   answered; a new episode resets the recurrent state.
//!
//! What is answered, and how:
//! - a good observation: the policy's action;
//! - one the policy cannot decide on (no available action): the safe
//!   action, flagged [`ActionSource::Fallback`];
//! - malformed bytes, a replay, an out-of-order step or a wrong session:
//!   nothing at all (no command, no answer), counted by kind and logged at
//!   most once a second. Such payloads do not count as contact either: if
//!   no good observation comes for `stale_after`, [`Agent::on_tick`] sends
//!   the safe action, flagged [`ActionSource::Stale`], once per silence.
//!   So junk on the network can neither steer nor stop a robot; at worst
//!   it drowns the coordinator and the robot stops itself.
//!
//! The Zenoh loop (`murmur agent`) only moves bytes to and from
//! [`Agent::on_observation`].

use std::time::{Duration, Instant};

use crate::policy::{Policy, PolicyError};
use crate::spec::ActorSpec;
use crate::wire::{ActionMsg, ActionSource, ObservationMsg, WireError, MAX_ACTIONS, MAX_OBS, WIRE_VERSION};

/// One command for the robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// The action to execute, below `n_actions`.
    pub action: usize,
    /// Where it came from (policy, fallback, stale).
    pub source: ActionSource,
    /// Episode of the observation answered (the last known one for a stale
    /// command).
    pub episode: u64,
    /// Step of the observation answered.
    pub step: u32,
}

/// The integrator's hook: receives every command the agent decides.
pub trait Actuator {
    /// Executes (or queues) `command`. Called exactly once per observation
    /// payload and once per detected silence.
    fn command(&mut self, command: &Command);
}

/// An actuator that does nothing (the agent only publishes).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoActuator;

impl Actuator for NoActuator {
    fn command(&mut self, _command: &Command) {}
}

/// An optional actuator: `None` only publishes, like [`NoActuator`].
impl<A: Actuator> Actuator for Option<A> {
    fn command(&mut self, command: &Command) {
        if let Some(a) = self {
            a.command(command);
        }
    }
}

/// Failsafe settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentConfig {
    /// The action sent when the policy cannot decide (e.g. "stay").
    pub safe_action: usize,
    /// Silence after which the safe action is sent, flagged stale.
    pub stale_after: Duration,
}

/// Errors counted since start, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCounts {
    /// Payloads that were not a usable observation message.
    pub malformed: u64,
    /// Observations the policy refused (e.g. no available action).
    pub refused: u64,
    /// Silences longer than `stale_after`.
    pub stale: u64,
    /// Observations for the step answered last, again.
    pub replayed: u64,
    /// Observations for a step before the one answered last.
    pub out_of_order: u64,
    /// Observations of an earlier session, or of a new one that does not
    /// start an episode.
    pub wrong_session: u64,
}

impl ErrorCounts {
    /// Payloads refused without an answer.
    pub fn unanswered(&self) -> u64 {
        self.malformed + self.replayed + self.out_of_order + self.wrong_session
    }
}

/// The last observation answered: session, episode, step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    session: u64,
    episode: u64,
    step: u32,
}

/// Why an observation is not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutOfSequence {
    Replayed,
    OutOfOrder,
    WrongSession,
}

impl Position {
    /// Whether `msg` is the coordinator's next observation after `last`.
    fn check(last: Option<Position>, msg: &ObservationMsg) -> Result<(), OutOfSequence> {
        let Some(last) = last else {
            return if msg.reset { Ok(()) } else { Err(OutOfSequence::WrongSession) };
        };
        match msg.session.cmp(&last.session) {
            std::cmp::Ordering::Greater if msg.reset => Ok(()),
            std::cmp::Ordering::Greater | std::cmp::Ordering::Less => Err(OutOfSequence::WrongSession),
            std::cmp::Ordering::Equal => match (msg.episode, msg.step).cmp(&(last.episode, last.step)) {
                std::cmp::Ordering::Greater => Ok(()),
                std::cmp::Ordering::Equal => Err(OutOfSequence::Replayed),
                std::cmp::Ordering::Less => Err(OutOfSequence::OutOfOrder),
            },
        }
    }
}

/// Why an agent cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentError {
    /// The actor does not fit the wire messages.
    #[error("the actor's {field} is {got}, the wire carries at most {max}")]
    Capacity {
        /// The dimension.
        field: &'static str,
        /// Its value.
        got: usize,
        /// The wire's limit.
        max: usize,
    },
    /// The safe action is not an action of the policy.
    #[error("safe action {got} is not an action of this actor (it has {n_actions})")]
    SafeAction {
        /// The configured action.
        got: usize,
        /// The actor's actions.
        n_actions: usize,
    },
}

/// Why a new model is refused for this agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwapError {
    /// The model does not fit the robot's role in the team.
    #[error("the new model's {field} is {got}, this agent's role needs {expected}")]
    Role {
        /// The dimension.
        field: &'static str,
        /// The new model's value.
        got: usize,
        /// The running model's value.
        expected: usize,
    },
}

/// The decision loop of one robot.
pub struct Agent<P: Policy, A: Actuator> {
    policy: P,
    staged: Option<(P, [u8; 32])>,
    actuator: A,
    spec: ActorSpec,
    cfg: AgentConfig,
    model_sha256: [u8; 32],
    position: Option<Position>,
    last_observation: Option<Instant>,
    stale_sent: bool,
    errors: ErrorCounts,
    last_log: Option<Instant>,
}

impl<P: Policy, A: Actuator> Agent<P, A> {
    /// An agent running `policy` (whose model hashes to `model_sha256`) and
    /// commanding `actuator`.
    pub fn new(policy: P, actuator: A, cfg: AgentConfig, model_sha256: [u8; 32]) -> Result<Self, AgentError> {
        let spec = policy.spec();
        for (field, got, max) in [("obs_dim", spec.obs_dim, MAX_OBS), ("n_actions", spec.n_actions, MAX_ACTIONS)] {
            if got > max {
                return Err(AgentError::Capacity { field, got, max });
            }
        }
        if cfg.safe_action >= spec.n_actions {
            return Err(AgentError::SafeAction { got: cfg.safe_action, n_actions: spec.n_actions });
        }
        Ok(Self {
            policy,
            staged: None,
            actuator,
            spec,
            cfg,
            model_sha256,
            position: None,
            last_observation: None,
            stale_sent: false,
            errors: ErrorCounts::default(),
            last_log: None,
        })
    }

    /// Stages `policy` (whose model hashes to `model_sha256`) to replace
    /// the running one at the next episode start (a new episode id or the
    /// reset flag), so no episode mixes two models. It must take the same
    /// observations and actions in the same team (the hidden width may
    /// differ); otherwise it is refused and the running model stays. A
    /// later call replaces a model staged earlier.
    pub fn stage(&mut self, policy: P, model_sha256: [u8; 32]) -> Result<(), SwapError> {
        let (new, old) = (policy.spec(), self.spec);
        for (field, got, expected) in [
            ("obs_dim", new.obs_dim, old.obs_dim),
            ("n_actions", new.n_actions, old.n_actions),
            ("n_agents", new.n_agents, old.n_agents),
        ] {
            if got != expected {
                return Err(SwapError::Role { field, got, expected });
            }
        }
        self.staged = Some((policy, model_sha256));
        Ok(())
    }

    /// Whether the model hashing to `sha` is the one waiting for the next
    /// episode or, with none waiting, the one deciding now: staging it
    /// again would change nothing.
    pub fn has_model(&self, sha: &[u8; 32]) -> bool {
        self.staged_sha256().map_or(self.model_sha256 == *sha, |staged| staged == *sha)
    }

    /// SHA-256 of the model deciding now.
    pub fn model_sha256(&self) -> [u8; 32] {
        self.model_sha256
    }

    /// SHA-256 of the model waiting for the next episode, if any.
    pub fn staged_sha256(&self) -> Option<[u8; 32]> {
        self.staged.as_ref().map(|(_, sha)| *sha)
    }

    /// Errors counted so far.
    pub fn errors(&self) -> ErrorCounts {
        self.errors
    }

    /// The policy (e.g. to read its hidden state).
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The actuator.
    pub fn actuator(&self) -> &A {
        &self.actuator
    }

    /// Handles one observation payload received at `now`: if it is the
    /// coordinator's next observation, commands the actuator and returns
    /// the message to publish; otherwise counts it and returns `None` (see
    /// the module's documentation).
    pub fn on_observation(&mut self, payload: &[u8], now: Instant) -> Option<ActionMsg> {
        let msg = match ObservationMsg::decode(payload, &self.spec) {
            Ok(msg) => msg,
            Err(e) => {
                self.errors.malformed += 1;
                self.log_rate_limited(now, &Problem::Wire(e));
                return None;
            }
        };
        if let Err(why) = Position::check(self.position, &msg) {
            match why {
                OutOfSequence::Replayed => self.errors.replayed += 1,
                OutOfSequence::OutOfOrder => self.errors.out_of_order += 1,
                OutOfSequence::WrongSession => self.errors.wrong_session += 1,
            }
            self.log_rate_limited(now, &Problem::Sequence(why, msg.session, msg.episode, msg.step));
            return None;
        }
        self.last_observation = Some(now);
        self.stale_sent = false;
        let new_episode = self.position.is_none_or(|p| p.session != msg.session || p.episode != msg.episode);
        if msg.reset || new_episode {
            if let Some((policy, sha)) = self.staged.take() {
                self.policy = policy;
                self.spec = self.policy.spec();
                self.model_sha256 = sha;
                log::info!("episode {}: switched to the staged model {}", msg.episode, short_hex(&sha));
            }
            self.policy.reset();
        }
        let position = Position { session: msg.session, episode: msg.episode, step: msg.step };
        self.position = Some(position);
        let started = Instant::now();
        Some(match self.policy.step(&msg.obs, &msg.avail) {
            Ok(decision) => {
                let inference_us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                let command = Command {
                    action: decision.action,
                    source: ActionSource::Policy,
                    episode: msg.episode,
                    step: msg.step,
                };
                let mut probs = heapless::Vec::new();
                // Fits: `new` checked n_actions against the wire's capacity.
                let _ = probs.extend_from_slice(decision.probs);
                self.actuator.command(&command);
                ActionMsg {
                    version: WIRE_VERSION,
                    session: msg.session,
                    episode: msg.episode,
                    step: msg.step,
                    action: command.action as u16,
                    source: ActionSource::Policy,
                    probs,
                    inference_us,
                    model_sha256: self.model_sha256,
                }
            }
            Err(e) => {
                self.errors.refused += 1;
                self.log_rate_limited(now, &Problem::Policy(e));
                self.fallback(ActionSource::Fallback, position)
            }
        })
    }

    /// Call regularly (e.g. every few milliseconds): once no observation has
    /// arrived for `stale_after`, commands the safe action flagged stale and
    /// returns the message to publish; `None` otherwise.
    pub fn on_tick(&mut self, now: Instant) -> Option<ActionMsg> {
        let since = self.last_observation.map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        if since < self.cfg.stale_after || self.stale_sent {
            return None;
        }
        if self.last_observation.is_none() {
            // Nothing ever arrived: start the silence now.
            self.last_observation = Some(now);
            return None;
        }
        self.stale_sent = true;
        self.errors.stale += 1;
        log::warn!("no observation for {:?}: sending the safe action {}", self.cfg.stale_after, self.cfg.safe_action);
        let last = self.position.unwrap_or(Position { session: 0, episode: 0, step: 0 });
        Some(self.fallback(ActionSource::Stale, last))
    }

    fn fallback(&mut self, source: ActionSource, at: Position) -> ActionMsg {
        let Position { session, episode, step } = at;
        let command = Command { action: self.cfg.safe_action, source, episode, step };
        self.actuator.command(&command);
        ActionMsg {
            version: WIRE_VERSION,
            session,
            episode,
            step,
            action: command.action as u16,
            source,
            probs: heapless::Vec::new(),
            inference_us: 0,
            model_sha256: self.model_sha256,
        }
    }

    fn log_rate_limited(&mut self, now: Instant, problem: &Problem) {
        if self.last_log.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1)) {
            return;
        }
        self.last_log = Some(now);
        let e = self.errors;
        let reaction = match problem {
            Problem::Policy(_) => format!("sent the safe action {}", self.cfg.safe_action),
            Problem::Wire(_) | Problem::Sequence(..) => "not answered".to_string(),
        };
        log::warn!(
            "{problem}: {reaction} (so far: {} malformed, {} replayed, {} out of order, {} of a wrong session, {} \
             refused by the policy, {} stale)",
            e.malformed,
            e.replayed,
            e.out_of_order,
            e.wrong_session,
            e.refused,
            e.stale
        );
    }
}

/// The first 6 bytes of a hash in hex, for logs.
pub(crate) fn short_hex(sha: &[u8; 32]) -> String {
    hex(&sha[..6])
}

/// Lower-case hex of `bytes` (model hashes in logs, files and messages).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

enum Problem {
    Wire(WireError),
    Policy(PolicyError),
    /// Why, and the observation's session, episode and step.
    Sequence(OutOfSequence, u64, u64, u32),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Wire(e) => write!(f, "{e}"),
            Problem::Policy(e) => write!(f, "{e}"),
            Problem::Sequence(why, session, episode, step) => {
                let what = match why {
                    OutOfSequence::Replayed => "repeats the step answered last",
                    OutOfSequence::OutOfOrder => "comes before the step answered last",
                    OutOfSequence::WrongSession => {
                        "belongs to an earlier coordinator session, or to a new one that does not start an episode"
                    }
                };
                write!(f, "observation (session {session}, episode {episode}, step {step}) {what}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::nano::testing::random_blob;
    use crate::policy::NanoPolicy;
    use crate::wire::MAX_MESSAGE_BYTES;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 4, n_actions: 3, n_agents: 2, hidden: 8 };

    #[derive(Default)]
    struct Recorder(std::vec::Vec<Command>);

    impl Actuator for Recorder {
        fn command(&mut self, command: &Command) {
            self.0.push(*command);
        }
    }

    fn agent(blob: &[u8]) -> Agent<NanoPolicy<'_>, Recorder> {
        let policy = NanoPolicy::new(blob, 1).unwrap();
        let cfg = AgentConfig { safe_action: 0, stale_after: Duration::from_millis(100) };
        Agent::new(policy, Recorder::default(), cfg, [3; 32]).unwrap()
    }

    /// An observation of session 1.
    fn payload(episode: u64, step: u32, reset: bool, obs: &[f32]) -> std::vec::Vec<u8> {
        payload_of(1, episode, step, reset, obs)
    }

    fn payload_of(session: u64, episode: u64, step: u32, reset: bool, obs: &[f32]) -> std::vec::Vec<u8> {
        let msg = ObservationMsg {
            version: WIRE_VERSION,
            session,
            episode,
            step,
            reset,
            obs: heapless::Vec::from_slice(obs).unwrap(),
            avail: heapless::Vec::from_slice(&[1.0, 1.0, 1.0]).unwrap(),
        };
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        msg.encode(&mut buf).unwrap().to_vec()
    }

    #[test]
    fn good_observations_reach_the_actuator_and_new_episodes_reset_the_state() {
        let blob = random_blob(&SPEC, 5);
        let mut a = agent(&blob);
        let t0 = Instant::now();
        let m = a.on_observation(&payload(1, 0, true, &[0.1, 0.2, 0.3, 0.4]), t0).unwrap();
        assert_eq!((m.source, m.session, m.episode, m.step, m.probs.len()), (ActionSource::Policy, 1, 1, 0, 3));
        a.on_observation(&payload(1, 1, false, &[0.5, 0.2, 0.3, 0.4]), t0);
        let mid_episode = a.policy().hidden().to_vec();
        // A new episode id resets the recurrent state: the same observation
        // from scratch gives the same hidden state as a fresh policy.
        a.on_observation(&payload(2, 0, false, &[0.1, 0.2, 0.3, 0.4]), t0);
        let mut fresh = NanoPolicy::new(&blob, 1).unwrap();
        fresh.step(&[0.1, 0.2, 0.3, 0.4], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(a.policy().hidden(), fresh.hidden());
        assert_ne!(mid_episode, fresh.hidden().to_vec());
        let sources: std::vec::Vec<_> = a.actuator().0.iter().map(|c| c.source).collect();
        assert_eq!(sources, [ActionSource::Policy; 3]);
    }

    #[test]
    fn malformed_observations_are_not_answered_and_leave_the_state() {
        let blob = random_blob(&SPEC, 6);
        let mut a = agent(&blob);
        let t0 = Instant::now();
        a.on_observation(&payload(1, 0, true, &[0.1, 0.2, 0.3, 0.4]), t0).unwrap();
        let before = a.policy().hidden().to_vec();
        let nan = payload(1, 1, false, &[0.1, f32::NAN, 0.3, 0.4]);
        for bad in [&b"garbage"[..], &nan[..nan.len() - 3], &payload(1, 1, false, &[0.1, 0.2, 0.3]), &nan[..]] {
            assert_eq!(a.on_observation(bad, t0), None);
        }
        assert_eq!(a.policy().hidden(), &before[..], "a bad observation touched the GRU state");
        assert_eq!(a.errors().malformed, 4);
        assert_eq!(a.actuator().0.len(), 1, "a bad observation reached the actuator");
        // Junk is not contact: the robot's own timer still stops it.
        let later = t0 + Duration::from_millis(150);
        a.on_observation(b"junk", later);
        let m = a.on_tick(later).unwrap();
        assert_eq!((m.source, m.action), (ActionSource::Stale, 0));
    }

    #[test]
    fn only_the_coordinators_next_step_is_answered() {
        let blob = random_blob(&SPEC, 13);
        let mut a = agent(&blob);
        let t0 = Instant::now();
        let obs = [0.1, 0.2, 0.3, 0.4];
        let at = |a: &mut Agent<_, _>, session, episode, step, reset| {
            a.on_observation(&payload_of(session, episode, step, reset, &obs), t0)
                .map(|m| (m.session, m.episode, m.step))
        };
        // A fresh agent waits for an episode start.
        assert_eq!(at(&mut a, 5, 1, 3, false), None);
        assert_eq!(at(&mut a, 5, 1, 0, true), Some((5, 1, 0)));
        assert_eq!(at(&mut a, 5, 1, 1, false), Some((5, 1, 1)));
        assert_eq!(at(&mut a, 5, 1, 1, false), None, "a replay");
        assert_eq!(at(&mut a, 5, 1, 0, true), None, "an older step, even flagged as a start");
        assert_eq!(at(&mut a, 5, 1, 3, false), Some((5, 1, 3)), "a lost message in between is no reason to stop");
        assert_eq!(at(&mut a, 5, 2, 0, false), Some((5, 2, 0)));
        assert_eq!(at(&mut a, 4, 9, 0, true), None, "an earlier session");
        assert_eq!(at(&mut a, 6, 1, 4, false), None, "a new session must start an episode");
        assert_eq!(at(&mut a, 6, 1, 0, true), Some((6, 1, 0)), "a restarted coordinator");
        assert_eq!(at(&mut a, 5, 3, 0, true), None, "the old coordinator's session is over");
        let e = a.errors();
        assert_eq!((e.replayed, e.out_of_order, e.wrong_session), (1, 1, 4));
        assert_eq!(e.unanswered(), 6);
        assert_eq!(a.actuator().0.len(), 5, "one command per answered observation");
    }

    #[test]
    fn silence_gives_one_stale_safe_action_until_observations_resume() {
        let blob = random_blob(&SPEC, 7);
        let mut a = agent(&blob);
        let t0 = Instant::now();
        assert!(a.on_tick(t0).is_none(), "nothing is stale before the first silence is timed");
        assert!(a.on_tick(t0 + Duration::from_millis(50)).is_none());
        let m = a.on_tick(t0 + Duration::from_millis(150)).unwrap();
        assert_eq!((m.source, m.action), (ActionSource::Stale, 0));
        assert!(a.on_tick(t0 + Duration::from_millis(300)).is_none(), "one stale command per silence");
        a.on_observation(&payload(1, 0, true, &[0.0; 4]), t0 + Duration::from_millis(310));
        assert!(a.on_tick(t0 + Duration::from_millis(350)).is_none());
        assert!(a.on_tick(t0 + Duration::from_millis(420)).is_some());
        assert_eq!(a.errors().stale, 2);
    }

    #[test]
    fn a_staged_model_takes_over_at_the_next_episode_and_a_misfit_is_refused() {
        let (blob_a, blob_b) = (random_blob(&SPEC, 10), random_blob(&SPEC, 11));
        let other = random_blob(&ActorSpec { obs_dim: 5, ..SPEC }, 12);
        let mut a = agent(&blob_a);
        let t0 = Instant::now();
        let obs = [0.3, -0.2, 0.9, 0.1];
        a.on_observation(&payload(1, 0, true, &obs), t0);
        assert_eq!(
            a.stage(NanoPolicy::new(&other, 1).unwrap(), [5; 32]),
            Err(SwapError::Role { field: "obs_dim", got: 5, expected: 4 })
        );
        assert!(a.has_model(&[3; 32]) && !a.has_model(&[4; 32]));
        a.stage(NanoPolicy::new(&blob_b, 1).unwrap(), [4; 32]).unwrap();
        assert_eq!(a.staged_sha256(), Some([4; 32]));
        // The staged model is the one it has now (a repeat of the running
        // one would switch back).
        assert!(a.has_model(&[4; 32]) && !a.has_model(&[3; 32]));
        // Mid-episode the old model goes on deciding.
        let mut old = NanoPolicy::new(&blob_a, 1).unwrap();
        old.step(&obs, &[1.0; 3]).unwrap();
        let expected = old.step(&obs, &[1.0; 3]).unwrap().probs.to_vec();
        let m = a.on_observation(&payload(1, 1, false, &obs), t0).unwrap();
        assert_eq!((m.model_sha256, m.probs.to_vec()), ([3; 32], expected));
        // The next episode starts on the new one, from a fresh state.
        let mut new = NanoPolicy::new(&blob_b, 1).unwrap();
        let expected = new.step(&obs, &[1.0; 3]).unwrap().probs.to_vec();
        let m = a.on_observation(&payload(2, 0, false, &obs), t0).unwrap();
        assert_eq!((m.model_sha256, m.probs.to_vec()), ([4; 32], expected));
        assert_eq!((a.model_sha256(), a.staged_sha256()), ([4; 32], None));
    }

    #[test]
    fn bad_settings_are_refused() {
        let blob = random_blob(&SPEC, 8);
        let policy = NanoPolicy::new(&blob, 0).unwrap();
        let cfg = AgentConfig { safe_action: 3, stale_after: Duration::from_millis(100) };
        assert!(matches!(Agent::new(policy, NoActuator, cfg, [0; 32]), Err(AgentError::SafeAction { got: 3, .. })));
    }

    #[test]
    fn a_hundred_thousand_bad_payloads_never_panic_or_reach_the_actuator_unchecked() {
        let blob = random_blob(&SPEC, 9);
        let mut a = agent(&blob);
        let t0 = Instant::now();
        a.on_observation(&payload(1, 0, true, &[0.1, 0.2, 0.3, 0.4]), t0).unwrap();
        let good = payload(1, 1, false, &[0.1, 0.2, 0.3, 0.4]);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut answered = 0u64;
        for k in 0..100_000u64 {
            let p: std::vec::Vec<u8> = match k % 3 {
                0 => (0..next() % 64).map(|_| next() as u8).collect(),
                1 => good[..(next() as usize % (good.len() + 1))].to_vec(),
                _ => {
                    let mut p = good.clone();
                    let i = next() as usize % p.len();
                    p[i] ^= 1 << (next() % 8);
                    p
                }
            };
            if let Some(m) = a.on_observation(&p, t0) {
                answered += 1;
                assert!(usize::from(m.action) < SPEC.n_actions);
                assert!(m.probs.iter().all(|x| x.is_finite()));
            }
        }
        let commands = &a.actuator().0;
        assert_eq!(commands.len() as u64, 1 + answered, "one command per answer, none otherwise");
        assert_eq!(answered + a.errors().unanswered() + a.errors().refused, 100_000);
        assert!(commands.iter().all(|c| c.action < SPEC.n_actions && c.source == ActionSource::Policy));
        // Each answer moved the sequence forward: a flipped bit cannot
        // make the agent answer the same step twice.
        let order: std::vec::Vec<_> = commands.iter().map(|c| (c.episode, c.step)).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    }
}
