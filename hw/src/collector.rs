//! Gathering one step's answers: which robot answered what, when, and what
//! was refused. Pure bookkeeping, apart from any transport, so every rule
//! is tested without a network.
//!
//! An answer counts for the step when it decodes as an [`ActionMsg`] for
//! this team (version, action in range, probabilities in [0, 1]), comes on
//! the key of a robot the observation was sent to, and names the current
//! session, episode and step. The first such answer per robot wins; everything else
//! is refused and counted by kind, never applied.

use std::time::{Duration, Instant};

use murmur_runtime::wire::{ActionMsg, ActionSource};
use murmur_runtime::WireDims;

use crate::recorder::Origin;

/// A robot's usable answer for the current step.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The action the robot executes.
    pub action: usize,
    /// Policy, or the robot's own fallback or stale safe action.
    pub origin: Origin,
    /// The robot's probabilities (`n_actions` values; empty for a fallback).
    pub probs: Vec<f32>,
    /// The robot's inference time, microseconds.
    pub inference_us: u32,
    /// Observation sent to answer received.
    pub latency: Duration,
    /// SHA-256 of the model that decided.
    pub model_sha256: [u8; 32],
}

/// Refused payloads, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rejections {
    /// Not an action message of this team (bytes, version, ranges).
    pub malformed: u64,
    /// A well-formed answer for another session, episode or step, or from
    /// a robot not asked this step (late answers and replays land here).
    pub out_of_turn: u64,
    /// Published on the key of a robot id the team does not have.
    pub unknown_agent: u64,
    /// A second answer from the same robot for the same step.
    pub duplicate: u64,
}

impl Rejections {
    /// All refused payloads.
    pub fn total(&self) -> u64 {
        self.malformed + self.out_of_turn + self.unknown_agent + self.duplicate
    }
}

/// What happened to one offered payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is the robot's answer for this step.
    Accepted,
    /// Refused: see [`Rejections`].
    Malformed,
    /// Refused: another episode or step.
    OutOfTurn,
    /// Refused: no such robot.
    UnknownAgent,
    /// Refused: the robot already answered.
    Duplicate,
}

/// The answers of one step, robot by robot.
#[derive(Debug)]
pub struct StepCollector {
    spec: WireDims,
    session: u64,
    episode: u64,
    step: u32,
    sent_at: Instant,
    asked: Vec<bool>,
    answers: Vec<Option<Answer>>,
    pending: usize,
    rejected: Rejections,
}

impl StepCollector {
    /// A collector for a team of `spec.n_agents` robots with
    /// `spec.n_actions` actions each.
    pub fn new(spec: impl Into<WireDims>) -> Self {
        let spec: WireDims = spec.into();
        Self {
            spec,
            session: 0,
            episode: 0,
            step: 0,
            sent_at: Instant::now(),
            asked: vec![false; spec.n_agents],
            answers: vec![None; spec.n_agents],
            pending: 0,
            rejected: Rejections::default(),
        }
    }

    /// Starts step `step` of `episode` in coordinator session `session`:
    /// `asked[i]` says whether robot `i` was sent its observation (at
    /// `sent_at`).
    pub fn begin(&mut self, session: u64, episode: u64, step: u32, asked: &[bool], sent_at: Instant) {
        self.session = session;
        self.episode = episode;
        self.step = step;
        self.sent_at = sent_at;
        self.asked.copy_from_slice(asked);
        self.answers.iter_mut().for_each(|a| *a = None);
        self.pending = asked.iter().filter(|&&a| a).count();
    }

    /// Offers a payload received at `at` on the action key of robot `agent`
    /// (`None` when the key names no robot id).
    pub fn offer(&mut self, agent: Option<usize>, payload: &[u8], at: Instant) -> Verdict {
        let verdict = self.judge(agent, payload, at);
        match verdict {
            Verdict::Accepted => {}
            Verdict::Malformed => self.rejected.malformed += 1,
            Verdict::OutOfTurn => self.rejected.out_of_turn += 1,
            Verdict::UnknownAgent => self.rejected.unknown_agent += 1,
            Verdict::Duplicate => self.rejected.duplicate += 1,
        }
        verdict
    }

    fn judge(&mut self, agent: Option<usize>, payload: &[u8], at: Instant) -> Verdict {
        let Some(i) = agent.filter(|&i| i < self.spec.n_agents) else {
            return Verdict::UnknownAgent;
        };
        let Ok(msg) = ActionMsg::decode(payload, &self.spec) else {
            return Verdict::Malformed;
        };
        if msg.session != self.session || msg.episode != self.episode || msg.step != self.step || !self.asked[i] {
            return Verdict::OutOfTurn;
        }
        if self.answers[i].is_some() {
            return Verdict::Duplicate;
        }
        let origin = match msg.source {
            ActionSource::Policy => Origin::Policy,
            ActionSource::Fallback => Origin::Fallback,
            ActionSource::Stale => Origin::Stale,
        };
        self.answers[i] = Some(Answer {
            action: usize::from(msg.action),
            origin,
            probs: msg.probs.to_vec(),
            inference_us: msg.inference_us,
            latency: at.saturating_duration_since(self.sent_at),
            model_sha256: msg.model_sha256,
        });
        self.pending -= 1;
        Verdict::Accepted
    }

    /// Stops waiting for robot `i` this step (it left the swarm): it
    /// counts as not asked. No effect once it has answered.
    pub fn withdraw(&mut self, i: usize) {
        if self.asked[i] && self.answers[i].is_none() {
            self.asked[i] = false;
            self.pending -= 1;
        }
    }

    /// Robots asked this step that have not answered yet.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// This step's answers by robot (`None`: no usable answer yet).
    pub fn answers(&self) -> &[Option<Answer>] {
        &self.answers
    }

    /// Whether robot `i` was asked this step.
    pub fn asked(&self, i: usize) -> bool {
        self.asked[i]
    }

    /// Payloads refused since the collector was made.
    pub fn rejected(&self) -> Rejections {
        self.rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use murmur_runtime::wire::{MAX_MESSAGE_BYTES, WIRE_VERSION};
    use murmur_runtime::ActorSpec;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 2, n_actions: 3, n_agents: 3, hidden: 4 };

    /// An answer in session 1.
    fn answer(episode: u64, step: u32, action: u16, source: ActionSource) -> Vec<u8> {
        answer_of(1, episode, step, action, source)
    }

    fn answer_of(session: u64, episode: u64, step: u32, action: u16, source: ActionSource) -> Vec<u8> {
        let probs: &[f32] = if source == ActionSource::Policy { &[0.2, 0.5, 0.3] } else { &[] };
        let msg = ActionMsg {
            version: WIRE_VERSION,
            session,
            episode,
            step,
            action,
            source,
            probs: heapless::Vec::from_slice(probs).unwrap(),
            inference_us: 9,
            model_sha256: [1; 32],
        };
        msg.encode(&mut [0u8; MAX_MESSAGE_BYTES]).unwrap().to_vec()
    }

    #[test]
    fn first_answers_for_this_step_count_and_everything_else_is_refused_by_kind() {
        let mut c = StepCollector::new(SPEC);
        let t0 = Instant::now();
        c.begin(1, 4, 7, &[true, true, false], t0);
        assert_eq!(c.pending(), 2);
        let later = t0 + Duration::from_micros(250);
        assert_eq!(c.offer(Some(0), &answer(4, 7, 1, ActionSource::Policy), later), Verdict::Accepted);
        assert_eq!(c.offer(Some(0), &answer(4, 7, 2, ActionSource::Policy), later), Verdict::Duplicate);
        assert_eq!(c.offer(Some(1), &answer(4, 6, 2, ActionSource::Policy), later), Verdict::OutOfTurn);
        assert_eq!(c.offer(Some(1), &answer(3, 7, 2, ActionSource::Policy), later), Verdict::OutOfTurn);
        let replayed = answer_of(0, 4, 7, 2, ActionSource::Policy);
        assert_eq!(c.offer(Some(1), &replayed, later), Verdict::OutOfTurn, "an earlier session's answer");
        assert_eq!(c.offer(Some(2), &answer(4, 7, 2, ActionSource::Policy), later), Verdict::OutOfTurn, "not asked");
        assert_eq!(c.offer(Some(1), &answer(4, 7, 3, ActionSource::Policy), later), Verdict::Malformed, "action 3");
        assert_eq!(c.offer(Some(1), b"\x01junk", later), Verdict::Malformed);
        assert_eq!(c.offer(None, &answer(4, 7, 0, ActionSource::Policy), later), Verdict::UnknownAgent);
        assert_eq!(c.offer(Some(9), &answer(4, 7, 0, ActionSource::Policy), later), Verdict::UnknownAgent);
        assert_eq!(c.pending(), 1);
        assert_eq!(c.offer(Some(1), &answer(4, 7, 0, ActionSource::Fallback), later), Verdict::Accepted);
        assert_eq!(c.pending(), 0);

        let a0 = c.answers()[0].clone().unwrap();
        assert_eq!((a0.action, a0.origin, a0.latency), (1, Origin::Policy, Duration::from_micros(250)));
        assert_eq!(a0.probs, [0.2, 0.5, 0.3]);
        let a1 = c.answers()[1].clone().unwrap();
        assert_eq!((a1.action, a1.origin, a1.probs.len()), (0, Origin::Fallback, 0));
        assert!(c.answers()[2].is_none());
        let r = c.rejected();
        assert_eq!((r.malformed, r.out_of_turn, r.unknown_agent, r.duplicate, r.total()), (2, 4, 2, 1, 9));

        // A robot that leaves mid-step is no longer waited for.
        c.begin(1, 5, 0, &[true, true, true], t0);
        c.offer(Some(2), &answer(5, 0, 1, ActionSource::Policy), later);
        c.withdraw(2);
        c.withdraw(1);
        assert_eq!((c.pending(), c.asked(1), c.asked(2)), (1, false, true), "an answer stands");
        assert_eq!(c.offer(Some(1), &answer(5, 0, 1, ActionSource::Policy), later), Verdict::OutOfTurn);

        // The next step starts clean; counts accumulate.
        c.begin(1, 4, 8, &[true, true, true], t0);
        assert_eq!(c.pending(), 3);
        assert!(c.answers().iter().all(Option::is_none));
        assert_eq!(c.offer(Some(0), &answer(4, 7, 1, ActionSource::Policy), later), Verdict::OutOfTurn, "late");
        assert_eq!(c.rejected().out_of_turn, 6);
    }
}
