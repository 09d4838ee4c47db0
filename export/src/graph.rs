//! The ONNX graph of the shared GRU actor (docs/onnx.md, docs/design.md
//! "The actor").
//!
//! ```text
//! inputs  obs [B, obs_dim] f32, prev_action [B] i64 (-1 = none), agent_id [B] i64,
//!         h_in [B, hidden] f32, avail [B, n_actions] f32 (1 = allowed)
//! x      = [obs, one_hot(prev_action), one_hot(agent_id)]   (Gather from one-hot tables, indices checked, below)
//! e      = Relu(Gemm(LayerNorm?(x), fc1))
//! h_out  = GRU(e, h_in)                                     (ONNX GRU, linear_before_reset = 1)
//! z      = Relu(Gemm(h_out, head))                          (only with the head layer; else z = h_out)
//! logits = Gemm(z, fc2, C = Gemm(obs, 0) + fc2.bias)        (0 x obs: NaN where obs is not finite)
//! probs  = Softmax(Where(avail == 0, -1e10, logits))        (blocked actions underflow to exactly 0)
//! ```
//!
//! The graph guards its inputs for clients other than murmur's runtime
//! (which checks them before the graph sees them):
//! - A non-finite observation gives NaN probabilities. Without a guard it
//!   is lost before the GRU (ONNX Runtime gave finite probabilities for
//!   a NaN observation; `Relu` as `max(x, 0)` drops it), so it also enters the
//!   logits' bias through a product with a zero matrix: 0 x finite is 0,
//!   0 x NaN or infinity is NaN. A non-finite hidden state reaches the
//!   logits through the GRU's products.
//! - Indices out of range are an error, never another index: `Gather`
//!   would wrap a negative index to a row from the end, so indices go
//!   through `Mod` by [`INDEX_MODULUS`] first, which leaves `0..size`
//!   alone and sends negative indices far past the table, where `Gather`
//!   fails. (Only magnitudes within a table's size of a multiple of the
//!   modulus, above 4.6e18, would wrap onto a row.) The previous action is
//!   shifted by one first: its table's row 0 is the all-zero row of `-1`.
//!
//! The GRU is ONNX's own operator rather than elementary ops: one node that
//! every runtime implements natively (fused and fast), and with
//! `linear_before_reset = 1` it is exactly PyTorch's GRU once the gate
//! blocks are reordered from PyTorch's (r, z, n) to ONNX's (z, r, h); the
//! tests feed weights where a swap would show. The one-hots are rows
//! gathered from constant tables instead of `OneHot`, which wraps negative
//! indices and turns too large ones into zeros.

use crate::proto::{
    attribute_type, tensor_shape_proto, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, FLOAT, INT64,
};
use murmur_runtime::ActorSpec;

/// The opset the file declares.
pub const OPSET: i64 = 17;
/// ONNX IR version matching opset 17.
pub const IR_VERSION: i64 = 8;

/// What indices are reduced by before `Gather`: `2^62 + 2^40`. Indices in
/// `0..2^62` stay as they are; a negative `k` above `-2^62` becomes
/// `k + 2^62 + 2^40`, and `i64::MIN` (also the wrap of `i64::MAX + 1`)
/// becomes `2^41`: all far past any table, so `Gather` refuses them.
pub const INDEX_MODULUS: i64 = (1 << 62) + (1 << 40);

/// A row-major matrix or vector of f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Dimensions.
    pub dims: Vec<i64>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// The actor's weights in PyTorch's layout (gate order r, z, n).
#[derive(Debug, Clone, PartialEq)]
pub struct ActorWeights {
    /// Dimensions.
    pub spec: ActorSpec,
    /// `input_norm.{weight, bias}` `[input_dim]` when the actor has one.
    pub input_norm: Option<(Param, Param)>,
    /// `fc1.weight` `[H, input_dim]`, `fc1.bias` `[H]`.
    pub fc1: (Param, Param),
    /// `gru.weight_ih` `[3H, H]`, `gru.weight_hh` `[3H, H]`, `gru.bias_ih` `[3H]`, `gru.bias_hh` `[3H]`.
    pub gru: [Param; 4],
    /// The optional layer between the GRU and the logits: `head.weight`
    /// `[H, H]`, `head.bias` `[H]`, followed by a ReLU.
    pub head: Option<(Param, Param)>,
    /// `fc2.weight` `[A, H]`, `fc2.bias` `[A]`.
    pub fc2: (Param, Param),
}

/// Reorders the three gate blocks of `values` (rows of `row_len` values,
/// `3H` rows) from PyTorch's r, z, n to ONNX's z, r, h.
pub fn reorder_gates(values: &[f32], hidden: usize, row_len: usize) -> Vec<f32> {
    let block = hidden * row_len;
    let (r, z, n) = (&values[..block], &values[block..2 * block], &values[2 * block..]);
    [z, r, n].concat()
}

fn float_tensor(name: &str, dims: &[i64], values: Vec<f32>) -> TensorProto {
    TensorProto { dims: dims.to_vec(), data_type: FLOAT, float_data: values, name: name.into(), ..Default::default() }
}

fn int64_tensor(name: &str, dims: &[i64], values: Vec<i64>) -> TensorProto {
    TensorProto { dims: dims.to_vec(), data_type: INT64, int64_data: values, name: name.into(), ..Default::default() }
}

fn value_info(name: &str, elem_type: i32, dims: &[Option<i64>], doc: &str) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(v) => tensor_shape_proto::dimension::Value::DimValue(*v),
                None => tensor_shape_proto::dimension::Value::DimParam("batch".into()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            })),
        }),
        doc_string: doc.into(),
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i, r#type: attribute_type::INT, ..Default::default() }
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f, r#type: attribute_type::FLOAT, ..Default::default() }
}

/// The `k x k` identity, after an all-zero row when `zero_row`, row-major.
fn one_hot_table(k: usize, zero_row: bool) -> Vec<f32> {
    let skip = usize::from(zero_row);
    (0..(k + skip) * k).map(|i| f32::from(u8::from(i / k == i % k + skip))).collect()
}

/// Appends nodes with generated names.
#[derive(Default)]
struct Nodes(Vec<NodeProto>);

impl Nodes {
    fn add(&mut self, op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) {
        let name = format!("{}_{}", op.to_lowercase(), self.0.len());
        self.0.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            name,
            op_type: op.into(),
            attribute,
            domain: String::new(),
        });
    }
}

/// The actor as an ONNX model with `metadata` as its metadata properties.
pub fn actor_model(w: &ActorWeights, metadata: &[(String, String)]) -> ModelProto {
    let s = w.spec;
    let (h, a, n) = (s.hidden as i64, s.n_actions as i64, s.n_agents as i64);
    let mut init = vec![
        int64_tensor("axes_0", &[1], vec![0]),
        int64_tensor("one", &[], vec![1]),
        int64_tensor("index_modulus", &[], vec![INDEX_MODULUS]),
        // One-hot tables read with `Gather`: the previous action's has an
        // all-zero first row, which index -1 (an episode start) picks once
        // shifted by one.
        float_tensor("prev_action_table", &[a + 1, a], one_hot_table(a as usize, true)),
        float_tensor("obs_guard", &[s.obs_dim as i64, a], vec![0.0; s.obs_dim * a as usize]),
        float_tensor("agent_id_table", &[n, n], one_hot_table(n as usize, false)),
        float_tensor("zero", &[], vec![0.0]),
        float_tensor("unavailable_logit", &[], vec![-1e10]),
        float_tensor("fc1.weight", &w.fc1.0.dims, w.fc1.0.values.clone()),
        float_tensor("fc1.bias", &w.fc1.1.dims, w.fc1.1.values.clone()),
        float_tensor("fc2.weight", &w.fc2.0.dims, w.fc2.0.values.clone()),
        float_tensor("fc2.bias", &w.fc2.1.dims, w.fc2.1.values.clone()),
    ];
    let hu = h as usize;
    let [w_ih, w_hh, b_ih, b_hh] = &w.gru;
    init.push(float_tensor("gru.W", &[1, 3 * h, h], reorder_gates(&w_ih.values, hu, hu)));
    init.push(float_tensor("gru.R", &[1, 3 * h, h], reorder_gates(&w_hh.values, hu, hu)));
    let bias = [reorder_gates(&b_ih.values, hu, 1), reorder_gates(&b_hh.values, hu, 1)].concat();
    init.push(float_tensor("gru.B", &[1, 6 * h], bias));

    let mut nodes = Nodes::default();
    // Few nodes on purpose: ONNX Runtime's cost per node, not the
    // arithmetic, is most of a batch-1 step (docs/benchmarks.md).
    nodes.add("Add", &["prev_action", "one"], &["prev_action_row"], vec![]);
    nodes.add("Mod", &["prev_action_row", "index_modulus"], &["prev_action_index"], vec![]);
    nodes.add("Mod", &["agent_id", "index_modulus"], &["agent_id_index"], vec![]);
    nodes.add(
        "Gather",
        &["prev_action_table", "prev_action_index"],
        &["prev_action_one_hot"],
        vec![int_attr("axis", 0)],
    );
    nodes.add("Gather", &["agent_id_table", "agent_id_index"], &["agent_id_one_hot"], vec![int_attr("axis", 0)]);
    nodes.add("Concat", &["obs", "prev_action_one_hot", "agent_id_one_hot"], &["x"], vec![int_attr("axis", 1)]);
    let mut x = "x";
    if let Some((gamma, beta)) = &w.input_norm {
        init.push(float_tensor("input_norm.weight", &gamma.dims, gamma.values.clone()));
        init.push(float_tensor("input_norm.bias", &beta.dims, beta.values.clone()));
        nodes.add(
            "LayerNormalization",
            &["x", "input_norm.weight", "input_norm.bias"],
            &["x_norm"],
            vec![int_attr("axis", -1), float_attr("epsilon", 1e-5)],
        );
        x = "x_norm";
    }
    nodes.add("Gemm", &[x, "fc1.weight", "fc1.bias"], &["fc1_out"], vec![int_attr("transB", 1)]);
    nodes.add("Relu", &["fc1_out"], &["embedding"], vec![]);
    nodes.add("Unsqueeze", &["embedding", "axes_0"], &["gru_x"], vec![]);
    nodes.add("Unsqueeze", &["h_in", "axes_0"], &["gru_h0"], vec![]);
    nodes.add(
        "GRU",
        &["gru_x", "gru.W", "gru.R", "gru.B", "", "gru_h0"],
        &["", "gru_h1"],
        vec![int_attr("hidden_size", h), int_attr("linear_before_reset", 1)],
    );
    nodes.add("Squeeze", &["gru_h1", "axes_0"], &["h_out"], vec![]);
    let mut z = "h_out";
    if let Some((weight, bias)) = &w.head {
        init.push(float_tensor("head.weight", &weight.dims, weight.values.clone()));
        init.push(float_tensor("head.bias", &bias.dims, bias.values.clone()));
        nodes.add("Gemm", &["h_out", "head.weight", "head.bias"], &["head_out"], vec![int_attr("transB", 1)]);
        nodes.add("Relu", &["head_out"], &["head_relu"], vec![]);
        z = "head_relu";
    }
    nodes.add("Gemm", &["obs", "obs_guard", "fc2.bias"], &["guarded_bias"], vec![]);
    nodes.add("Gemm", &[z, "fc2.weight", "guarded_bias"], &["logits"], vec![int_attr("transB", 1)]);
    nodes.add("Equal", &["avail", "zero"], &["blocked"], vec![]);
    nodes.add("Where", &["blocked", "unavailable_logit", "logits"], &["masked_logits"], vec![]);
    // Blocked logits underflow to probability exactly 0. (A mask allowing
    // nothing gives uniform probabilities; the runtime refuses such masks,
    // and a final `Where` to zero them cost 0.8 us a step.)
    nodes.add("Softmax", &["masked_logits"], &["probs"], vec![int_attr("axis", 1)]);

    let (o, hd) = (s.obs_dim as i64, h);
    let graph = GraphProto {
        node: nodes.0,
        name: "murmur_actor".into(),
        initializer: init,
        doc_string: "murmur's shared GRU actor: one step for a batch of agents".into(),
        input: vec![
            value_info("obs", FLOAT, &[None, Some(o)], "observations"),
            value_info("prev_action", INT64, &[None], "previous actions, -1 at an episode start"),
            value_info("agent_id", INT64, &[None], "agent indices 0..n_agents"),
            value_info("h_in", FLOAT, &[None, Some(hd)], "GRU hidden state, zeros at an episode start"),
            value_info("avail", FLOAT, &[None, Some(a)], "availability mask, 1 = allowed"),
        ],
        output: vec![
            value_info(
                "probs",
                FLOAT,
                &[None, Some(a)],
                "action probabilities, exactly 0 where unavailable (when at least one action is available)",
            ),
            value_info("h_out", FLOAT, &[None, Some(hd)], "next hidden state"),
        ],
    };
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "murmur".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: "murmur".into(),
        model_version: 1,
        doc_string: "A murmur actor: one step of the parameter-shared GRU actor for a batch of agents; inputs, outputs and metadata are described in murmur's docs/onnx.md.".into(),
        graph: Some(graph),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_actions_table_starts_with_the_zero_row() {
        assert_eq!(one_hot_table(2, true), vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(one_hot_table(2, false), vec![1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn negative_indices_land_past_every_table() {
        // ONNX's integer Mod (fmod = 0) takes the divisor's sign, as Rust's rem_euclid.
        let reduced = |i: i64| i.rem_euclid(INDEX_MODULUS);
        for i in [0, 1, 63, 1 << 40] {
            assert_eq!(reduced(i), i);
        }
        for i in [-1, -2, -64, i64::MIN, i64::MIN + 1, i64::MAX.wrapping_add(1)] {
            assert!(reduced(i) >= 1 << 41, "{i} -> {}", reduced(i));
        }
    }

    #[test]
    fn gates_move_from_r_z_n_to_z_r_h() {
        // H = 1, rows of 2: r = [1, 2], z = [3, 4], n = [5, 6].
        assert_eq!(reorder_gates(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 2), vec![3.0, 4.0, 1.0, 2.0, 5.0, 6.0]);
    }
}
