//! The actor contract shared by every crate: dimensions and input layout.
//!
//! One actor network serves every agent of a team (parameter sharing). Agent
//! `i` at step `t` feeds it
//!
//! ```text
//! x_i = [ obs_i (obs_dim) | one_hot(prev_action_i) (n_actions) | one_hot(i) (n_agents) ]
//! ```
//!
//! where `prev_action_i` is the action agent `i` took at `t - 1` and the
//! one-hot block is all zeros at an episode start. The GRU hidden state has
//! `hidden` values per agent and is zero at every episode start.

use serde::{Deserialize, Serialize};

/// Dimensions of a team's shared recurrent actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorSpec {
    /// Length of one agent's observation vector.
    pub obs_dim: usize,
    /// Number of discrete actions per agent.
    pub n_actions: usize,
    /// Number of agents in the team (size of the agent-id one-hot).
    pub n_agents: usize,
    /// Width of the GRU hidden state per agent.
    pub hidden: usize,
}

/// The dimensions the wire messages are checked against: a team's
/// observation length, action count and size, without the actor's hidden
/// width (which is each robot's own business).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDims {
    /// Length of one agent's observation vector.
    pub obs_dim: usize,
    /// Number of discrete actions per agent.
    pub n_actions: usize,
    /// Number of agents in the team.
    pub n_agents: usize,
}

impl From<ActorSpec> for WireDims {
    fn from(s: ActorSpec) -> Self {
        Self { obs_dim: s.obs_dim, n_actions: s.n_actions, n_agents: s.n_agents }
    }
}

/// What wire messages can be checked against: a team's [`WireDims`], or an
/// [`ActorSpec`] (whose hidden width the checks ignore).
pub trait HasWireDims {
    /// The team's dimensions.
    fn wire_dims(&self) -> WireDims;
}

impl HasWireDims for WireDims {
    fn wire_dims(&self) -> WireDims {
        *self
    }
}

impl HasWireDims for ActorSpec {
    fn wire_dims(&self) -> WireDims {
        (*self).into()
    }
}

/// A violation of the actor contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A dimension that must be positive is zero.
    #[error("actor spec: `{field}` must be at least 1, got 0")]
    ZeroDimension {
        /// The offending field's name.
        field: &'static str,
    },
    /// A slice passed in has the wrong length.
    #[error("actor input: `{what}` has length {got}, expected {expected}")]
    Length {
        /// Which argument.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length the spec requires.
        expected: usize,
    },
    /// An index (action or agent id) outside its range.
    #[error("actor input: `{what}` is {got}, expected a value below {bound}")]
    OutOfRange {
        /// Which argument.
        what: &'static str,
        /// The value given.
        got: usize,
        /// The exclusive upper bound.
        bound: usize,
    },
}

impl ActorSpec {
    /// Checks that every dimension is positive.
    pub fn validate(&self) -> Result<(), SpecError> {
        for (field, v) in [
            ("obs_dim", self.obs_dim),
            ("n_actions", self.n_actions),
            ("n_agents", self.n_agents),
            ("hidden", self.hidden),
        ] {
            if v == 0 {
                return Err(SpecError::ZeroDimension { field });
            }
        }
        Ok(())
    }

    /// Length of the actor input `x_i`: `obs_dim + n_actions + n_agents`.
    pub fn input_dim(&self) -> usize {
        self.obs_dim + self.n_actions + self.n_agents
    }

    /// Writes `x_i` for one agent into `out` (length [`Self::input_dim`]).
    ///
    /// `prev_action` is `None` at an episode start. Allocation-free.
    pub fn write_input(
        &self,
        obs: &[f32],
        prev_action: Option<usize>,
        agent_id: usize,
        out: &mut [f32],
    ) -> Result<(), SpecError> {
        check_len("obs", obs.len(), self.obs_dim)?;
        check_len("out", out.len(), self.input_dim())?;
        check_index("agent_id", agent_id, self.n_agents)?;
        if let Some(a) = prev_action {
            check_index("prev_action", a, self.n_actions)?;
        }
        let (o, rest) = out.split_at_mut(self.obs_dim);
        let (act, id) = rest.split_at_mut(self.n_actions);
        o.copy_from_slice(obs);
        act.fill(0.0);
        if let Some(a) = prev_action {
            act[a] = 1.0;
        }
        id.fill(0.0);
        id[agent_id] = 1.0;
        Ok(())
    }
}

fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), SpecError> {
    if got == expected {
        Ok(())
    } else {
        Err(SpecError::Length { what, got, expected })
    }
}

fn check_index(what: &'static str, got: usize, bound: usize) -> Result<(), SpecError> {
    if got < bound {
        Ok(())
    } else {
        Err(SpecError::OutOfRange { what, got, bound })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 3, n_actions: 4, n_agents: 2, hidden: 8 };

    #[test]
    fn input_layout_is_obs_then_prev_action_then_agent_id() {
        let mut x = [9.0f32; 9];
        SPEC.write_input(&[0.5, -1.0, 2.0], Some(2), 1, &mut x).unwrap();
        assert_eq!(x, [0.5, -1.0, 2.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn episode_start_has_an_all_zero_prev_action_block() {
        let mut x = [9.0f32; 9];
        SPEC.write_input(&[1.0, 1.0, 1.0], None, 0, &mut x).unwrap();
        assert_eq!(&x[3..], &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn bad_inputs_are_named_errors() {
        let mut x = [0.0f32; 9];
        assert_eq!(
            SPEC.write_input(&[0.0; 2], None, 0, &mut x),
            Err(SpecError::Length { what: "obs", got: 2, expected: 3 })
        );
        assert_eq!(
            SPEC.write_input(&[0.0; 3], Some(4), 0, &mut x),
            Err(SpecError::OutOfRange { what: "prev_action", got: 4, bound: 4 })
        );
        let zero = ActorSpec { n_agents: 0, ..SPEC };
        assert_eq!(zero.validate(), Err(SpecError::ZeroDimension { field: "n_agents" }));
        assert_eq!(SPEC.input_dim(), 9);
    }
}
