//! Hyperparameter tables of the learners (`[coma]`, `[mappo]`, `[lica]`,
//! ...), each with the defaults of ../shared/specs/algorithms.md and its
//! own checks. Keys in errors are the dotted config keys.

use serde::{Deserialize, Serialize};

use super::{check, positive, unit};
use crate::Result;

/// COMA hyperparameters (algorithms.md section 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComaConfig {
    /// Actor learning rate (RMSprop).
    pub lr_actor: f64,
    /// Critic learning rate (RMSprop).
    pub lr_critic: f64,
    /// RMSprop smoothing constant.
    pub rms_alpha: f64,
    /// RMSprop epsilon.
    pub rms_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter.
    pub td_lambda: f64,
    /// Hidden width of the critic's two layers.
    pub critic_hidden: usize,
    /// Hard copy to the target critic every this many critic updates.
    pub target_update_interval: usize,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Exploration floor at the start of training.
    pub epsilon_start: f64,
    /// Exploration floor after annealing.
    pub epsilon_finish: f64,
    /// Environment steps over which the floor anneals linearly.
    pub epsilon_anneal_steps: u64,
}

impl Default for ComaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 5e-4,
            lr_critic: 5e-4,
            rms_alpha: 0.99,
            rms_eps: 1e-5,
            gamma: 0.99,
            td_lambda: 0.8,
            critic_hidden: 128,
            target_update_interval: 200,
            grad_clip: 10.0,
            epsilon_start: 0.5,
            epsilon_finish: 0.01,
            epsilon_anneal_steps: 100_000,
        }
    }
}

impl ComaConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        let c = self;
        positive("coma.lr_actor", c.lr_actor)?;
        positive("coma.lr_critic", c.lr_critic)?;
        positive("coma.rms_eps", c.rms_eps)?;
        positive("coma.grad_clip", c.grad_clip)?;
        unit("coma.rms_alpha", c.rms_alpha)?;
        unit("coma.gamma", c.gamma)?;
        unit("coma.td_lambda", c.td_lambda)?;
        unit("coma.epsilon_start", c.epsilon_start)?;
        unit("coma.epsilon_finish", c.epsilon_finish)?;
        check(c.critic_hidden >= 1, "coma.critic_hidden", "at least 1", c.critic_hidden)?;
        check(c.target_update_interval >= 1, "coma.target_update_interval", "at least 1", c.target_update_interval)?;
        Ok(())
    }
}

/// MAPPO hyperparameters (algorithms.md section 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappoConfig {
    /// Adam learning rate of the actor, and of the critic unless
    /// `critic_lr` is set.
    pub lr: f64,
    /// Adam learning rate of the critic; unset, `lr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critic_lr: Option<f64>,
    /// Adam epsilon.
    pub adam_eps: f64,
    /// Discount factor.
    pub gamma: f64,
    /// GAE lambda.
    pub gae_lambda: f64,
    /// PPO ratio clip (also the value clip).
    pub clip: f64,
    /// Passes over each batch.
    pub epochs: usize,
    /// Minibatches per pass (episodes are split between them).
    pub minibatches: usize,
    /// Entropy bonus coefficient.
    pub entropy_coef: f64,
    /// Huber loss threshold of the value loss.
    pub huber_delta: f64,
    /// Clip the value update around the old value.
    pub value_clip: bool,
    /// Normalise value targets with a running normaliser.
    pub value_norm: bool,
    /// Normalise advantages over valid entries.
    pub advantage_norm: bool,
    /// Truncated BPTT chunk length for the recurrent actor.
    pub chunk_len: usize,
    /// Hidden width of the critic.
    pub critic_hidden: usize,
    /// LayerNorm on the critic's input (the MAPPO paper).
    pub critic_layer_norm: bool,
    /// Orthogonal initialisation of the critic's weights (the MAPPO paper);
    /// off, PyTorch's default.
    pub critic_orthogonal_init: bool,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
    /// Append the episode's time step (t / episode_limit) to the critic's
    /// input: the critic lives on the server, so the actor is unaffected.
    pub critic_time_feature: bool,
    /// Bootstrap the value where an episode is cut by its time limit
    /// (EPyMARL), instead of treating the cut as terminal (the MAPPO
    /// authors' code). Bootstrapping without the time feature asks the
    /// critic for infinite-horizon values it cannot pin down.
    pub bootstrap_truncation: bool,
    /// How advantages are estimated: `gae` (the MAPPO paper), or `nstep`
    /// (EPyMARL's MAPPO: n-step returns bootstrapped from a target copy of
    /// the critic, the advantage `y - V(s)` re-read from the critic at every
    /// epoch).
    pub advantage: AdvantageEstimator,
    /// n of the n-step returns (`advantage = "nstep"`).
    pub nstep: usize,
    /// How the target critic of `advantage = "nstep"` follows the critic
    /// (EPyMARL's `target_update_interval_or_tau`): above 1, copied every
    /// that many updates; at most 1, moved that fraction of the way after
    /// every update.
    pub target_update: f64,
    /// Standardise rewards by their running mean and standard deviation
    /// before any return is computed (EPyMARL's `standardise_rewards`; the
    /// statistics are [`crate::learner::ValueNorm`]'s debiased moving
    /// averages, not EPyMARL's exact running count).
    pub reward_norm: bool,
}

/// MAPPO's advantage estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvantageEstimator {
    /// Generalised advantage estimation on the critic's values.
    Gae,
    /// n-step returns on a target critic, minus the critic's value.
    Nstep,
}

impl Default for MappoConfig {
    fn default() -> Self {
        Self {
            lr: 7e-4,
            critic_lr: None,
            adam_eps: 1e-5,
            gamma: 0.99,
            gae_lambda: 0.95,
            clip: 0.2,
            epochs: 10,
            minibatches: 1,
            entropy_coef: 0.01,
            huber_delta: 10.0,
            value_clip: true,
            value_norm: true,
            advantage_norm: true,
            chunk_len: 10,
            critic_hidden: 64,
            critic_layer_norm: true,
            critic_orthogonal_init: true,
            grad_clip: 10.0,
            critic_time_feature: true,
            bootstrap_truncation: false,
            advantage: AdvantageEstimator::Gae,
            nstep: 5,
            target_update: 200.0,
            reward_norm: false,
        }
    }
}

impl MappoConfig {
    pub(crate) fn validate(&self, batch_episodes: usize) -> Result<()> {
        let m = self;
        positive("mappo.lr", m.lr)?;
        if let Some(lr) = m.critic_lr {
            positive("mappo.critic_lr", lr)?;
        }
        positive("mappo.adam_eps", m.adam_eps)?;
        positive("mappo.clip", m.clip)?;
        positive("mappo.huber_delta", m.huber_delta)?;
        positive("mappo.grad_clip", m.grad_clip)?;
        unit("mappo.gamma", m.gamma)?;
        unit("mappo.gae_lambda", m.gae_lambda)?;
        check(m.entropy_coef >= 0.0, "mappo.entropy_coef", "at least 0", m.entropy_coef)?;
        check(m.epochs >= 1, "mappo.epochs", "at least 1", m.epochs)?;
        check(m.chunk_len >= 1, "mappo.chunk_len", "at least 1", m.chunk_len)?;
        check(m.critic_hidden >= 1, "mappo.critic_hidden", "at least 1", m.critic_hidden)?;
        check(m.nstep >= 1, "mappo.nstep", "at least 1", m.nstep)?;
        check(
            m.target_update > 0.0 && (m.target_update <= 1.0 || m.target_update.fract() == 0.0),
            "mappo.target_update",
            "a fraction in (0, 1] or a whole number of updates",
            m.target_update,
        )?;
        check(
            (1..=batch_episodes).contains(&m.minibatches),
            "mappo.minibatches",
            "between 1 and batch_episodes",
            m.minibatches,
        )
    }
}

/// How the entropy bonus enters an actor loss (algorithms.md section 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntropyMode {
    /// `-(xi / stop_gradient(H)) H`: the gradient is `xi grad(H) / H`,
    /// stronger as the policy turns deterministic (LICA, SeCA).
    Adaptive,
    /// `-beta H` (the ablation).
    Vanilla,
}

/// The hypernetwork mixing critic of LICA and SeCA (`[lica.critic]`,
/// `[seca.critic]`; algorithms.md sections 3-4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixingCriticConfig {
    /// Adam learning rate.
    pub lr: f64,
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter.
    pub td_lambda: f64,
    /// Mixing width E.
    pub embed: usize,
    /// Width of W1's hypernetwork hidden layer (unset: E n A, the paper's;
    /// its second layer then holds (E n A)^2 weights, so set it smaller for
    /// larger teams).
    pub hyper_hidden: Option<usize>,
    /// Scale of the hypernetworks' output layers at initialisation, against
    /// PyTorch's default (ours: the papers state none; a small start keeps
    /// the untrained critic flat in the action vectors, see
    /// train/src/critic/mixing.rs).
    pub init_scale: f64,
    /// Hard copy to the target critic every this many critic updates.
    pub target_update_interval: usize,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for MixingCriticConfig {
    fn default() -> Self {
        Self {
            lr: 5e-4,
            gamma: 0.99,
            td_lambda: 0.8,
            embed: 64,
            hyper_hidden: None,
            init_scale: 0.1,
            target_update_interval: 200,
            grad_clip: 10.0,
        }
    }
}

impl MixingCriticConfig {
    fn validate(&self, table: &str) -> Result<()> {
        let key = |k: &str| format!("{table}.critic.{k}");
        positive(&key("lr"), self.lr)?;
        positive(&key("grad_clip"), self.grad_clip)?;
        positive(&key("init_scale"), self.init_scale)?;
        unit(&key("gamma"), self.gamma)?;
        unit(&key("td_lambda"), self.td_lambda)?;
        check(self.embed >= 1, &key("embed"), "at least 1", self.embed)?;
        if let Some(h) = self.hyper_hidden {
            check(h >= 1, &key("hyper_hidden"), "at least 1", h)?;
        }
        check(
            self.target_update_interval >= 1,
            &key("target_update_interval"),
            "at least 1",
            self.target_update_interval,
        )
    }
}

/// LICA hyperparameters (algorithms.md section 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LicaConfig {
    /// Actor learning rate (Adam).
    pub lr_actor: f64,
    /// How the entropy bonus enters the actor loss.
    pub entropy: EntropyMode,
    /// xi of the adaptive bonus (beta when `entropy = "vanilla"`).
    pub entropy_coef: f64,
    /// Feed the critic Gumbel-softmax samples instead of the probability
    /// vectors (the paper's ablation; it found probability vectors better).
    pub gumbel_softmax: bool,
    /// Temperature of the Gumbel-softmax samples.
    pub gumbel_tau: f64,
    /// Global gradient-norm clip of the actor.
    pub grad_clip: f64,
    /// The mixing critic.
    pub critic: MixingCriticConfig,
}

impl Default for LicaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 2.5e-3,
            entropy: EntropyMode::Adaptive,
            entropy_coef: 0.06,
            gumbel_softmax: false,
            gumbel_tau: 1.0,
            grad_clip: 10.0,
            critic: MixingCriticConfig::default(),
        }
    }
}

impl LicaConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        positive("lica.lr_actor", self.lr_actor)?;
        positive("lica.gumbel_tau", self.gumbel_tau)?;
        positive("lica.grad_clip", self.grad_clip)?;
        check(self.entropy_coef >= 0.0, "lica.entropy_coef", "at least 0", self.entropy_coef)?;
        self.critic.validate("lica")
    }
}

/// How SeCA orders the agents of an episode (algorithms.md section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecaOrdering {
    /// By integrated gradients of the critic along the episode's policy
    /// path, largest contribution first (the method).
    IntegratedGradients,
    /// Agent 0, 1, .., n-1 (ablation).
    Fixed,
    /// Highest mean probability of the taken action first (ablation).
    MostConfident,
    /// Lowest mean policy entropy first (ablation).
    LowestEntropy,
}

/// Which way SeCA's integrated-gradients path steps between consecutive
/// policy vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathDirection {
    /// `pi_(j+1) - pi_j`, as the paper writes it (the default).
    Paper,
    /// `pi_j - pi_(j+1)`, as the authors' code computes it (reverses the
    /// order).
    Code,
}

/// SeCA hyperparameters (algorithms.md section 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecaConfig {
    /// Actor learning rate (Adam).
    pub lr_actor: f64,
    /// How the entropy bonus enters the actor loss.
    pub entropy: EntropyMode,
    /// xi of the adaptive bonus (beta when `entropy = "vanilla"`).
    pub entropy_coef: f64,
    /// How agents are ordered for the sequential advantage.
    pub ordering: SecaOrdering,
    /// Interpolation points between consecutive steps of the
    /// integrated-gradients path.
    pub ig_points: usize,
    /// Step direction of the integrated-gradients path.
    pub ig_direction: PathDirection,
    /// Global gradient-norm clip of the actor.
    pub grad_clip: f64,
    /// The mixing critic f_phi.
    pub critic: MixingCriticConfig,
}

impl Default for SecaConfig {
    fn default() -> Self {
        Self {
            lr_actor: 2.5e-3,
            entropy: EntropyMode::Adaptive,
            entropy_coef: 0.005,
            ordering: SecaOrdering::IntegratedGradients,
            ig_points: 5,
            ig_direction: PathDirection::Paper,
            grad_clip: 10.0,
            critic: MixingCriticConfig::default(),
        }
    }
}

impl SecaConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        positive("seca.lr_actor", self.lr_actor)?;
        positive("seca.grad_clip", self.grad_clip)?;
        check(self.entropy_coef >= 0.0, "seca.entropy_coef", "at least 0", self.entropy_coef)?;
        check(self.ig_points >= 1, "seca.ig_points", "at least 1", self.ig_points)?;
        self.critic.validate("seca")
    }
}

/// MAE hyperparameters (algorithms.md section 6; the paper's MPE
/// defaults). Epochs, minibatches and the entropy bonus are not published:
/// ours, documented in train/src/learner/mae.rs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaeConfig {
    /// Actor learning rate (Adam).
    pub lr_actor: f64,
    /// Critic learning rate (Adam).
    pub lr_critic: f64,
    /// Discount factor.
    pub gamma: f64,
    /// TD(lambda) trace parameter of the critic's targets.
    pub td_lambda: f64,
    /// Hidden width of the critic's two layers (COMA's critic).
    pub critic_hidden: usize,
    /// Hard copy to the target critic every this many critic updates.
    pub target_update_interval: usize,
    /// Sampled partner joint actions per marginal advantage (m).
    pub samples: usize,
    /// PPO ratio clip of the per-agent update.
    pub clip: f64,
    /// Passes of the actor over each batch.
    pub epochs: usize,
    /// Minibatches per pass (episodes are split between them).
    pub minibatches: usize,
    /// Entropy bonus coefficient (plain `-beta H`).
    pub entropy_coef: f64,
    /// Global gradient-norm clip.
    pub grad_clip: f64,
}

impl Default for MaeConfig {
    fn default() -> Self {
        Self {
            lr_actor: 5e-5,
            lr_critic: 5e-4,
            gamma: 0.98,
            td_lambda: 0.8,
            critic_hidden: 128,
            target_update_interval: 200,
            samples: 10,
            clip: 0.1,
            epochs: 4,
            minibatches: 1,
            entropy_coef: 0.0,
            grad_clip: 10.0,
        }
    }
}

impl MaeConfig {
    pub(crate) fn validate(&self, batch_episodes: usize) -> Result<()> {
        positive("mae.lr_actor", self.lr_actor)?;
        positive("mae.lr_critic", self.lr_critic)?;
        positive("mae.clip", self.clip)?;
        positive("mae.grad_clip", self.grad_clip)?;
        unit("mae.gamma", self.gamma)?;
        unit("mae.td_lambda", self.td_lambda)?;
        check(self.entropy_coef >= 0.0, "mae.entropy_coef", "at least 0", self.entropy_coef)?;
        check(self.critic_hidden >= 1, "mae.critic_hidden", "at least 1", self.critic_hidden)?;
        check(
            self.target_update_interval >= 1,
            "mae.target_update_interval",
            "at least 1",
            self.target_update_interval,
        )?;
        check(self.samples >= 1, "mae.samples", "at least 1", self.samples)?;
        check(self.epochs >= 1, "mae.epochs", "at least 1", self.epochs)?;
        check(
            (1..=batch_episodes).contains(&self.minibatches),
            "mae.minibatches",
            "between 1 and batch_episodes",
            self.minibatches,
        )
    }
}

/// How MACA weighs its three baselines (algorithms.md section 5).
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

/// MACA hyperparameters (algorithms.md section 5; built on MAPPO's).
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

impl MacaConfig {
    pub(crate) fn validate(&self, batch_episodes: usize) -> Result<()> {
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
