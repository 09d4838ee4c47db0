//! MACA's configuration table `[maca]` (docs/algorithms.md section 5).

use serde::{Deserialize, Serialize};

use super::Maca;
use crate::config::{check, positive, unit};
use crate::learner::registry::{ActorDefaults, BuildContext, LearnerConfig};
use crate::learner::Learner;
use crate::Result;

/// How MACA weighs its three baselines (docs/algorithms.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoefficientMode {
    /// From the critic's attention (the authors' code): `psi_ind = s A[i,i]`,
    /// `psi_cor = s (sum_{j in C_i} A[i,j] - A[i,i])`, `psi_jnt` the rest.
    Attention,
    /// `softmax(Linear(z_s; eta))` with `eta` searched by CMA-ES on the
    /// return improvement of each update (the paper).
    Cmaes,
}

/// One of MACA's counterfactual baselines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// `Q(s, pi_i, u_-i)`: marginalise agent i alone.
    Individual,
    /// `Q(s, pi_Ci, u_-Ci)`: marginalise agent i's correlated set.
    Correlated,
    /// `EQ(s, pi)`: marginalise everyone.
    Joint,
}

/// MACA hyperparameters (docs/algorithms.md section 5; built on MAPPO's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MacaConfig {
    /// Adam learning rate of the actor.
    pub lr_actor: f64,
    /// Adam learning rate of the critic.
    pub lr_critic: f64,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// GAE lambda (returns use EQ as the value).
    pub gae_lambda: f64,
    /// PPO ratio clip.
    pub clip: f64,
    /// Passes over each batch.
    pub epochs: usize,
    /// Minibatches per pass (episodes are split between them).
    pub minibatches: usize,
    /// Draw each pass's minibatches from a fresh permutation of the
    /// episodes (JaxMARL's MAPPO); off, the same contiguous splits.
    pub shuffle_minibatches: bool,
    /// Entropy bonus coefficient.
    pub entropy_coef: f64,
    /// Huber loss threshold of the critic's losses.
    pub huber_delta: f64,
    /// Weight of the Q head's loss (L_V + q_loss_coef L_Q + eq_loss_coef L_EQ).
    pub q_loss_coef: f64,
    /// Weight of the EQ head's loss.
    pub eq_loss_coef: f64,
    /// Normalise value targets with a running normaliser.
    pub value_norm: bool,
    /// Normalise advantages over valid entries.
    pub advantage_norm: bool,
    /// Truncated BPTT chunk length for the recurrent actor.
    pub chunk_len: usize,
    /// Global gradient-norm clip (actor and critic).
    pub grad_clip: f64,
    /// Append t / episode_limit to every critic token (as MAPPO's preset).
    pub critic_time_feature: bool,
    /// Bootstrap at the time-limit cut instead of ending the value there.
    pub bootstrap_truncation: bool,
    /// Token width d of the transformer.
    pub critic_width: usize,
    /// Attention heads (must divide the width).
    pub critic_heads: usize,
    /// Hidden width of each encoder block's MLP.
    pub critic_mlp: usize,
    /// Encoder blocks.
    pub critic_blocks: usize,
    /// Width of the state embedding z_s.
    pub critic_embed: usize,
    /// Attention threshold of the correlated sets; unset = 1 / n.
    pub sigma: Option<f64>,
    /// How the baselines are weighed.
    pub coefficients: CoefficientMode,
    /// Scale s of the attention coefficients (0.3 in the authors' code).
    pub attention_scale: f64,
    /// The baselines mixed into b_i; drop one for the ablations (the
    /// weights are renormalised over the rest).
    pub baselines: Vec<Baseline>,
    /// CMA-ES candidates per generation (one candidate per update).
    pub cmaes_population: usize,
    /// CMA-ES initial step size over eta.
    pub cmaes_sigma: f64,
}

impl Default for MacaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 7e-4,
            lr_critic: 7e-4,
            adam_eps: 1e-5,
            gamma: 0.99,
            gae_lambda: 0.95,
            clip: 0.1,
            epochs: 10,
            minibatches: 1,
            shuffle_minibatches: false,
            entropy_coef: 0.01,
            huber_delta: 10.0,
            q_loss_coef: 0.5,
            eq_loss_coef: 1.0,
            value_norm: true,
            advantage_norm: true,
            chunk_len: 10,
            grad_clip: 10.0,
            critic_time_feature: true,
            bootstrap_truncation: false,
            critic_width: 64,
            critic_heads: 1,
            critic_mlp: 64,
            critic_blocks: 1,
            critic_embed: 256,
            sigma: None,
            coefficients: CoefficientMode::Attention,
            attention_scale: 0.3,
            baselines: vec![Baseline::Individual, Baseline::Correlated, Baseline::Joint],
            cmaes_population: 8,
            cmaes_sigma: 0.05,
        }
    }
}

impl LearnerConfig for MacaConfig {
    const NAME: &'static str = "maca";
    const SUMMARY: &'static str = "Multi-level advantage credit assignment with a transformer critic";

    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        Ok(Box::new(Maca::new(self, ctx.seed, ctx.actor_vs, ctx.dims, ctx.device)?))
    }

    /// The MAPPO paper's actor: LayerNorm on its input, orthogonal weights.
    fn actor_defaults(&self) -> ActorDefaults {
        ActorDefaults { input_layer_norm: true, orthogonal_init: true }
    }

    fn validate(&self, batch_episodes: usize) -> Result<()> {
        let m = self;
        positive("maca.lr_actor", m.lr_actor)?;
        positive("maca.lr_critic", m.lr_critic)?;
        positive("maca.adam_eps", m.adam_eps)?;
        positive("maca.clip", m.clip)?;
        positive("maca.huber_delta", m.huber_delta)?;
        positive("maca.grad_clip", m.grad_clip)?;
        positive("maca.cmaes_sigma", m.cmaes_sigma)?;
        unit("maca.gamma", m.gamma)?;
        unit("maca.gae_lambda", m.gae_lambda)?;
        unit("maca.attention_scale", m.attention_scale)?;
        for (key, v) in [
            ("maca.entropy_coef", m.entropy_coef),
            ("maca.q_loss_coef", m.q_loss_coef),
            ("maca.eq_loss_coef", m.eq_loss_coef),
        ] {
            check(v >= 0.0 && v.is_finite(), key, "at least 0", v)?;
        }
        if let Some(sigma) = m.sigma {
            check(sigma > 0.0 && sigma <= 1.0, "maca.sigma", "within (0, 1]", sigma)?;
        }
        check(m.epochs >= 1, "maca.epochs", "at least 1", m.epochs)?;
        check(m.chunk_len >= 1, "maca.chunk_len", "at least 1", m.chunk_len)?;
        for (key, v) in [
            ("maca.critic_width", m.critic_width),
            ("maca.critic_heads", m.critic_heads),
            ("maca.critic_mlp", m.critic_mlp),
            ("maca.critic_blocks", m.critic_blocks),
            ("maca.critic_embed", m.critic_embed),
        ] {
            check(v >= 1, key, "at least 1", v)?;
        }
        check(
            m.critic_width.is_multiple_of(m.critic_heads),
            "maca.critic_heads",
            &format!("a divisor of maca.critic_width ({})", m.critic_width),
            m.critic_heads,
        )?;
        check(m.cmaes_population >= 2, "maca.cmaes_population", "at least 2", m.cmaes_population)?;
        let mut seen = Vec::new();
        for b in &m.baselines {
            check(!seen.contains(b), "maca.baselines", "a list without repeats", format!("{b:?} twice"))?;
            seen.push(*b);
        }
        check(!m.baselines.is_empty(), "maca.baselines", "at least one of individual, correlated, joint", "[]")?;
        check(
            (1..=batch_episodes).contains(&m.minibatches),
            "maca.minibatches",
            "between 1 and batch_episodes",
            m.minibatches,
        )
    }
}
