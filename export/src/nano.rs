//! The nano blob (`docs/nano.md`): the actor's weights for the runtime's
//! `no_std` [`NanoPolicy`](murmur_runtime::policy::NanoPolicy).
//!
//! ```text
//! "MURMNANO" | version u32 | obs_dim, n_actions, n_agents, hidden u32 | flags u32 (bit 0 LayerNorm, bit 1 head layer)
//! | f32 weights (PyTorch layout, gates r, z, n) | CRC-32 u32     (all little-endian)
//! ```

use murmur_runtime::policy::nano::{FLAG_HEAD_LAYER, FLAG_INPUT_LAYER_NORM, FORMAT_VERSION, MAGIC};

use crate::graph::ActorWeights;

/// The blob's flag bits for the layers `w` has.
pub fn nano_flags(w: &ActorWeights) -> u32 {
    let norm = if w.input_norm.is_some() { FLAG_INPUT_LAYER_NORM } else { 0 };
    let head = if w.head.is_some() { FLAG_HEAD_LAYER } else { 0 };
    norm | head
}

/// The blob of `w`.
pub fn nano_blob(w: &ActorWeights) -> Vec<u8> {
    let s = w.spec;
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    let flags = nano_flags(w);
    for v in [FORMAT_VERSION, s.obs_dim as u32, s.n_actions as u32, s.n_agents as u32, s.hidden as u32, flags] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut params = Vec::new();
    if let Some((g, b)) = &w.input_norm {
        params.extend([g, b]);
    }
    params.extend([&w.fc1.0, &w.fc1.1]);
    params.extend(w.gru.iter());
    if let Some((weight, bias)) = &w.head {
        params.extend([weight, bias]);
    }
    params.extend([&w.fc2.0, &w.fc2.1]);
    for p in params {
        for v in &p.values {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
