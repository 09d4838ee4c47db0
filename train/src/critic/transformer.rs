//! MACA's transformer critic (docs/algorithms.md section 5).
//!
//! Each agent's observation is a token: `Linear(token -> d) -> GELU ->
//! LayerNorm`, then pre-LN encoder blocks (self-attention over the agents,
//! an MLP with GELU), a final LayerNorm, and the flattened tokens give the
//! state embedding `z_s = LayerNorm(GELU(Linear(n d -> z)))`. Three heads
//! read it: `V(z_s)`, and `Q(z_s, v) = Linear(z -> 1)(Linear(z + nA -> z)([z_s,
//! v]))` with no non-linearity between the two linears, so Q is affine in the
//! joint action vector `v` and `Q(z_s, pi)` on probability vectors is exactly
//! `E_{u~pi} Q(s, u)` (the EQ head).
//!
//! The attention each block pays (mean over heads) is returned rolled out
//! over the blocks as the product `A_L ... A_1` without the identity term
//! some rollouts add for the residual path: with the default single block
//! this is exactly "the attention of agent i on agent j", the spec's
//! definition of the correlated sets.

use tch::nn::{self, Module};
use tch::{Kind, Tensor};

/// Sizes of the transformer critic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformerDims {
    /// Agents (tokens) `n`.
    pub n_agents: usize,
    /// Actions per agent `A`.
    pub n_actions: usize,
    /// Features of one agent's token.
    pub token_dim: usize,
    /// Token width `d` (64 in the paper).
    pub width: usize,
    /// Attention heads (1 in the paper); must divide `width`.
    pub heads: usize,
    /// Hidden width of each block's MLP (64).
    pub mlp: usize,
    /// Encoder blocks (1).
    pub blocks: usize,
    /// Width of the state embedding `z_s` (256).
    pub embed: usize,
}

/// One pre-LN encoder block: `x + Attn(LN(x))`, then `x + MLP(LN(x))`.
#[derive(Debug)]
struct EncoderBlock {
    heads: i64,
    attn_norm: nn::LayerNorm,
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    project: nn::Linear,
    mlp_norm: nn::LayerNorm,
    mlp_in: nn::Linear,
    mlp_out: nn::Linear,
}

impl EncoderBlock {
    fn new(vs: &nn::Path, width: i64, heads: i64, mlp: i64) -> Self {
        let lin = |name: &str, i, o| nn::linear(vs / name, i, o, Default::default());
        Self {
            heads,
            attn_norm: nn::layer_norm(vs / "attn_norm", vec![width], Default::default()),
            query: lin("query", width, width),
            key: lin("key", width, width),
            value: lin("value", width, width),
            project: lin("project", width, width),
            mlp_norm: nn::layer_norm(vs / "mlp_norm", vec![width], Default::default()),
            mlp_in: lin("mlp_in", width, mlp),
            mlp_out: lin("mlp_out", mlp, width),
        }
    }

    /// `x` `[R, n, d]` -> (`[R, n, d]`, attention averaged over heads `[R, n, n]`).
    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let size = x.size();
        let (rows, n, d) = (size[0], size[1], size[2]);
        let dh = d / self.heads;
        let h = self.attn_norm.forward(x);
        let split = |t: Tensor| t.view([rows, n, self.heads, dh]).transpose(1, 2); // [R, heads, n, dh]
        let (q, k, v) = (split(self.query.forward(&h)), split(self.key.forward(&h)), split(self.value.forward(&h)));
        let attention = (q.matmul(&k.transpose(-2, -1)) / (dh as f64).sqrt()).softmax(-1, q.kind());
        let mixed = attention.matmul(&v).transpose(1, 2).contiguous().view([rows, n, d]);
        let x = x + self.project.forward(&mixed);
        let hidden = self.mlp_in.forward(&self.mlp_norm.forward(&x)).gelu("none");
        let x = &x + self.mlp_out.forward(&hidden);
        (x, attention.mean_dim(1, false, attention.kind()))
    }
}

/// The state embedding of a batch of states and the critic's attention.
#[derive(Debug)]
pub struct Encoded {
    /// `z_s` `[.., embed]`.
    pub z: Tensor,
    /// Rolled-out attention `[.., n, n]`: row i is how agent i's token
    /// attends to every agent (rows sum to 1).
    pub attention: Tensor,
}

/// The transformer critic with its V and Q heads.
#[derive(Debug)]
pub struct TransformerCritic {
    dims: TransformerDims,
    token_in: nn::Linear,
    token_norm: nn::LayerNorm,
    blocks: Vec<EncoderBlock>,
    final_norm: nn::LayerNorm,
    state_in: nn::Linear,
    state_norm: nn::LayerNorm,
    value_head: nn::Linear,
    q_hidden: nn::Linear,
    q_out: nn::Linear,
}

impl TransformerCritic {
    /// A critic of `dims` with its parameters under `vs`.
    pub fn new(vs: &nn::Path, dims: TransformerDims) -> Self {
        let (d, z) = (dims.width as i64, dims.embed as i64);
        let (n, joint) = (dims.n_agents as i64, (dims.n_agents * dims.n_actions) as i64);
        let lin = |name: &str, i, o| nn::linear(vs / name, i, o, Default::default());
        Self {
            token_in: lin("token_in", dims.token_dim as i64, d),
            token_norm: nn::layer_norm(vs / "token_norm", vec![d], Default::default()),
            blocks: (0..dims.blocks)
                .map(|b| EncoderBlock::new(&(vs / format!("block{b}")), d, dims.heads as i64, dims.mlp as i64))
                .collect(),
            final_norm: nn::layer_norm(vs / "final_norm", vec![d], Default::default()),
            state_in: lin("state_in", n * d, z),
            state_norm: nn::layer_norm(vs / "state_norm", vec![z], Default::default()),
            value_head: lin("value", z, 1),
            q_hidden: lin("q_hidden", z + joint, z),
            q_out: lin("q_out", z, 1),
            dims,
        }
    }

    /// The sizes it was built with.
    pub fn dims(&self) -> TransformerDims {
        self.dims
    }

    /// Encodes agent tokens `[.., n, token_dim]` into `z_s` and attention.
    pub fn encode(&self, tokens: &Tensor) -> Encoded {
        let size = tokens.size();
        let lead = &size[..size.len() - 2];
        let n = size[size.len() - 2];
        let mut x = self
            .token_norm
            .forward(&self.token_in.forward(&tokens.reshape([-1, n, size[size.len() - 1]])).gelu("none"));
        let rows = x.size()[0];
        let mut rollout = Tensor::eye(n, (x.kind(), x.device())).expand([rows, n, n], true);
        for block in &self.blocks {
            let (next, attention) = block.forward(&x);
            rollout = attention.matmul(&rollout);
            x = next;
        }
        let flat = self.final_norm.forward(&x).view([rows, -1]);
        let z = self.state_norm.forward(&self.state_in.forward(&flat).gelu("none"));
        let mut z_shape = lead.to_vec();
        z_shape.push(self.dims.embed as i64);
        let mut a_shape = lead.to_vec();
        a_shape.extend([n, n]);
        Encoded { z: z.view(z_shape.as_slice()), attention: rollout.view(a_shape.as_slice()) }
    }

    /// State values `z` `[.., embed]` -> `[..]`.
    pub fn value(&self, z: &Tensor) -> Tensor {
        self.value_head.forward(z).squeeze_dim(-1)
    }

    /// Q of `K` joint action vectors per state: `z` `[.., embed]`, `v`
    /// `[.., K, n A]` (agent-major one-hots, probabilities, or a mix) ->
    /// `[.., K]`. Affine in `v`.
    pub fn q(&self, z: &Tensor, v: &Tensor) -> Tensor {
        let k = v.size()[v.dim() - 2];
        let mut shape = z.size();
        shape.insert(shape.len() - 1, k);
        let zk = z.unsqueeze(-2).expand(shape.as_slice(), false);
        self.q_out.forward(&self.q_hidden.forward(&Tensor::cat(&[zk, v.to_kind(z.kind())], -1))).squeeze_dim(-1)
    }
}

/// Correlated sets from attention `[.., n, n]`: 1.0 at `[.., i, j]` when
/// `A[i, j] >= sigma` or `j == i` (every agent is in its own set).
pub fn correlated_sets(attention: &Tensor, sigma: f64) -> Tensor {
    let n = attention.size()[attention.dim() - 1];
    let own = Tensor::eye(n, (Kind::Bool, attention.device()));
    attention.ge(sigma).logical_or(&own).to_kind(attention.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn dims() -> TransformerDims {
        TransformerDims { n_agents: 3, n_actions: 5, token_dim: 7, width: 16, heads: 2, mlp: 16, blocks: 2, embed: 32 }
    }

    #[test]
    fn attention_rows_are_distributions_and_shapes_follow_the_leading_dims() {
        tch::manual_seed(4);
        let vs = nn::VarStore::new(Device::Cpu);
        let critic = TransformerCritic::new(&vs.root(), dims());
        let tokens = Tensor::randn([4, 2, 3, 7], (Kind::Float, Device::Cpu));
        let e = critic.encode(&tokens);
        assert_eq!(e.z.size(), [4, 2, 32]);
        let row_sums = e.attention.sum_dim_intlist(-1, false, Kind::Float);
        assert!(row_sums.allclose(&Tensor::ones([4, 2, 3], (Kind::Float, Device::Cpu)), 1e-5, 1e-5, false));
        assert!(f64::try_from(e.attention.min()).unwrap() > 0.0);
        // Encoding one state alone gives the same numbers as in the batch.
        let one = critic.encode(&tokens.get(2).get(1));
        assert!(one.z.allclose(&e.z.get(2).get(1), 1e-5, 1e-5, false));
    }

    #[test]
    fn correlated_sets_hold_the_agent_and_exactly_the_agents_at_or_above_sigma() {
        tch::manual_seed(9);
        let n = 4;
        let attention = Tensor::rand([50, n, n], (Kind::Float, Device::Cpu)).softmax(-1, Kind::Float);
        let sigma = 1.0 / n as f64;
        let sets = correlated_sets(&attention, sigma);
        let a = Vec::<f32>::try_from(attention.view([-1])).unwrap();
        let c = Vec::<f32>::try_from(sets.view([-1])).unwrap();
        let mut below_on_diagonal = 0;
        for (k, (&av, &cv)) in a.iter().zip(&c).enumerate() {
            let (i, j) = ((k as i64 / n) % n, k as i64 % n);
            let expected = i == j || f64::from(av) >= sigma;
            assert_eq!(cv == 1.0, expected, "entry {k}: attention {av}, in set {cv}");
            below_on_diagonal += usize::from(i == j && f64::from(av) < sigma);
        }
        assert!(below_on_diagonal > 0, "the draw never tested self-inclusion below sigma");
        // The boundary counts: exactly sigma is in.
        let edge = Tensor::from_slice(&[0.5f32, 0.25, 0.25, 0.4, 0.35, 0.25, 0.1, 0.3, 0.6]).view([3, 3]);
        let edge_sets = Vec::<f32>::try_from(correlated_sets(&edge, 0.25).view([-1])).unwrap();
        assert_eq!(edge_sets, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    }
}
