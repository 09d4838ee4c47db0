//! The "nano" policy: the actor in pure Rust, `no_std`, no heap, reading
//! its weights straight out of a byte slice in the nano blob format
//! (`docs/nano.md`), so the blob can live in flash via `include_bytes!`.
//!
//! Working buffers are fixed-capacity (`heapless`): inputs up to
//! [`MAX_INPUT`] values, hidden states up to [`MAX_HIDDEN`], actions up to
//! [`MAX_ACTIONS`]; a blob beyond them is refused at load.

use heapless::Vec as FixedVec;

use super::kernels::{self, Kernel};
use super::{check_inputs, greedy, Decision, Policy, PolicyError};
use crate::spec::{ActorSpec, SpecError};

/// The blob's first bytes.
pub const MAGIC: [u8; 8] = *b"MURMNANO";
/// The blob layout version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Largest actor input (obs_dim + n_actions + n_agents) a nano policy holds.
pub const MAX_INPUT: usize = 1024;
/// Largest GRU width a nano policy holds.
pub const MAX_HIDDEN: usize = 128;
/// Most actions a nano policy holds.
pub const MAX_ACTIONS: usize = 64;
/// Bytes before the weights: magic, version, four dims, flags.
pub const HEADER_BYTES: usize = 8 + 4 * 6;
/// Flag bit: the actor normalises its input (LayerNorm, epsilon 1e-5).
pub const FLAG_INPUT_LAYER_NORM: u32 = 1;
/// Flag bit: a ReLU layer `[H, H]` sits between the GRU and the logits.
pub const FLAG_HEAD_LAYER: u32 = 2;
/// Every flag bit this crate reads.
pub const KNOWN_FLAGS: u32 = FLAG_INPUT_LAYER_NORM | FLAG_HEAD_LAYER;
const LAYER_NORM_EPS: f32 = 1e-5;

/// Why a blob cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The blob does not start with [`MAGIC`].
    #[error("nano blob: wrong magic (expected \"MURMNANO\"): not a murmur nano blob")]
    Magic,
    /// A layout version this crate does not read.
    #[error("nano blob: format version {got}, this murmur reads {FORMAT_VERSION}")]
    Version {
        /// The blob's version.
        got: u32,
    },
    /// The blob's length does not match its dims.
    #[error("nano blob: {got} bytes, its dims need {expected}")]
    Size {
        /// Bytes given.
        got: usize,
        /// Bytes the header's dims require.
        expected: usize,
    },
    /// The trailing CRC-32 does not match the contents.
    #[error("nano blob: checksum {got:#010x} does not match the contents' {expected:#010x} (corrupt)")]
    Checksum {
        /// The stored CRC-32.
        got: u32,
        /// The CRC-32 of the contents.
        expected: u32,
    },
    /// Flag bits this crate does not know (a newer murmur wrote the blob).
    #[error("nano blob: unknown flag bits {got:#x} (this murmur reads {KNOWN_FLAGS:#x})")]
    Flags {
        /// The unknown bits.
        got: u32,
    },
    /// A dimension is zero or beyond this build's fixed capacities.
    #[error("nano blob: `{field}` is {got}, expected 1 to {max}")]
    Capacity {
        /// The field.
        field: &'static str,
        /// Its value.
        got: usize,
        /// The largest this build holds.
        max: usize,
    },
}

/// Byte offsets of each weight in a blob, in floats from the weights' start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    norm: Option<(usize, usize)>,
    fc1_w: usize,
    fc1_b: usize,
    w_ih: usize,
    w_hh: usize,
    b_ih: usize,
    b_hh: usize,
    head: Option<(usize, usize)>,
    fc2_w: usize,
    fc2_b: usize,
    floats: usize,
}

impl Layout {
    fn of(spec: &ActorSpec, flags: u32) -> Self {
        let (i, h, a) = (spec.input_dim(), spec.hidden, spec.n_actions);
        let mut at = 0;
        let mut take = |n: usize| {
            let start = at;
            at += n;
            start
        };
        let norm = (flags & FLAG_INPUT_LAYER_NORM != 0).then(|| (take(i), take(i)));
        let fc1_w = take(h * i);
        let fc1_b = take(h);
        let w_ih = take(3 * h * h);
        let w_hh = take(3 * h * h);
        let b_ih = take(3 * h);
        let b_hh = take(3 * h);
        let head = (flags & FLAG_HEAD_LAYER != 0).then(|| (take(h * h), take(h)));
        let fc2_w = take(a * h);
        let fc2_b = take(a);
        Self { norm, fc1_w, fc1_b, w_ih, w_hh, b_ih, b_hh, head, fc2_w, fc2_b, floats: at }
    }
}

/// Bytes of a blob for `spec` with `flags` ([`FLAG_INPUT_LAYER_NORM`],
/// [`FLAG_HEAD_LAYER`]): header, weights, CRC-32.
pub fn blob_len(spec: &ActorSpec, flags: u32) -> usize {
    HEADER_BYTES + 4 * Layout::of(spec, flags).floats + 4
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The weights as stored: read in place as `f32` when the bytes are
/// 4-byte aligned on a little-endian target, else decoded value by value.
#[derive(Debug, Clone, Copy)]
enum Weights<'a> {
    Floats(&'a [f32]),
    Bytes(&'a [u8]),
}

/// A checked nano blob: its dims and where its weights are.
#[derive(Debug, Clone, Copy)]
pub struct NanoBlob<'a> {
    weights: Weights<'a>,
    spec: ActorSpec,
    layout: Layout,
    kernel: Kernel,
}

impl<'a> NanoBlob<'a> {
    /// Checks magic, version, dims, length and checksum of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BlobError> {
        if bytes.len() < 8 || bytes[..8] != MAGIC {
            return Err(BlobError::Magic);
        }
        if bytes.len() < HEADER_BYTES + 4 {
            return Err(BlobError::Size { got: bytes.len(), expected: HEADER_BYTES + 4 });
        }
        let version = u32_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(BlobError::Version { got: version });
        }
        let dim = |k: usize| u32_at(bytes, 12 + 4 * k) as usize;
        let spec = ActorSpec { obs_dim: dim(0), n_actions: dim(1), n_agents: dim(2), hidden: dim(3) };
        let flags = u32_at(bytes, 28);
        if flags & !KNOWN_FLAGS != 0 {
            return Err(BlobError::Flags { got: flags & !KNOWN_FLAGS });
        }
        for (field, got, max) in [
            ("obs_dim", spec.obs_dim, MAX_INPUT),
            ("n_actions", spec.n_actions, MAX_ACTIONS),
            ("n_agents", spec.n_agents, MAX_INPUT),
            ("hidden", spec.hidden, MAX_HIDDEN),
            ("input_dim", spec.input_dim(), MAX_INPUT),
        ] {
            if got == 0 || got > max {
                return Err(BlobError::Capacity { field, got, max });
            }
        }
        let expected = blob_len(&spec, flags);
        if bytes.len() != expected {
            return Err(BlobError::Size { got: bytes.len(), expected });
        }
        let body = &bytes[..expected - 4];
        let (got, want) = (u32_at(bytes, expected - 4), crc32fast::hash(body));
        if got != want {
            return Err(BlobError::Checksum { got, expected: want });
        }
        let raw = &body[HEADER_BYTES..];
        let weights = match bytemuck::try_cast_slice::<u8, f32>(raw) {
            Ok(floats) if cfg!(target_endian = "little") => Weights::Floats(floats),
            _ => Weights::Bytes(raw),
        };
        Ok(Self { weights, spec, layout: Layout::of(&spec, flags), kernel: Kernel::detect() })
    }

    /// The actor's dimensions.
    pub fn spec(&self) -> ActorSpec {
        self.spec
    }

    /// Whether the actor normalises its input.
    pub fn input_layer_norm(&self) -> bool {
        self.layout.norm.is_some()
    }

    /// Whether a ReLU layer sits between the GRU and the logits.
    pub fn head_layer(&self) -> bool {
        self.layout.head.is_some()
    }

    /// The matrix-vector kernel this CPU runs.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Whether the weights are read in place (aligned, little-endian).
    pub fn in_place(&self) -> bool {
        matches!(self.weights, Weights::Floats(_))
    }

    /// Weight number `k` (in floats from the weights' start).
    fn w(&self, k: usize) -> f32 {
        match self.weights {
            Weights::Floats(f) => f[k],
            Weights::Bytes(b) => {
                let at = 4 * k;
                f32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
            }
        }
    }

    /// `out[r] = bias[r] + sum_c W[r, c] x[c]` for the row-major matrix at
    /// `w` with `out.len()` rows and `x.len()` columns.
    fn affine(&self, w: usize, bias: usize, x: &[f32], out: &mut [f32]) {
        let cols = x.len();
        match self.weights {
            Weights::Floats(f) => kernels::affine(self.kernel, f, w, bias, x, out),
            Weights::Bytes(_) => {
                for (r, o) in out.iter_mut().enumerate() {
                    let row = w + r * cols;
                    *o = self.w(bias + r) + x.iter().enumerate().map(|(c, xc)| self.w(row + c) * xc).sum::<f32>();
                }
            }
        }
    }
}

/// The actor of a nano blob for one agent, with fixed-capacity state.
#[derive(Debug, Clone)]
pub struct NanoPolicy<'a> {
    blob: NanoBlob<'a>,
    agent_id: usize,
    prev_action: Option<usize>,
    h: FixedVec<f32, MAX_HIDDEN>,
    x: FixedVec<f32, MAX_INPUT>,
    e: FixedVec<f32, MAX_HIDDEN>,
    head: FixedVec<f32, MAX_HIDDEN>,
    gi: FixedVec<f32, { 3 * MAX_HIDDEN }>,
    gh: FixedVec<f32, { 3 * MAX_HIDDEN }>,
    probs: FixedVec<f32, MAX_ACTIONS>,
}

fn filled<const N: usize>(len: usize) -> FixedVec<f32, N> {
    let mut v = FixedVec::new();
    // Capacities were checked against the blob's dims at parse time.
    let _ = v.resize(len.min(N), 0.0);
    v
}

impl<'a> NanoPolicy<'a> {
    /// A policy for agent `agent_id` from the blob `bytes`.
    pub fn new(bytes: &'a [u8], agent_id: usize) -> Result<Self, PolicyError> {
        let blob = NanoBlob::parse(bytes)?;
        let s = blob.spec();
        if agent_id >= s.n_agents {
            return Err(SpecError::OutOfRange { what: "agent_id", got: agent_id, bound: s.n_agents }.into());
        }
        Ok(Self {
            blob,
            agent_id,
            prev_action: None,
            h: filled(s.hidden),
            x: filled(s.input_dim()),
            e: filled(s.hidden),
            head: filled(s.hidden),
            gi: filled(3 * s.hidden),
            gh: filled(3 * s.hidden),
            probs: filled(s.n_actions),
        })
    }

    /// The blob this policy runs.
    pub fn blob(&self) -> &NanoBlob<'a> {
        &self.blob
    }
}

impl Policy for NanoPolicy<'_> {
    fn spec(&self) -> ActorSpec {
        self.blob.spec()
    }

    fn reset(&mut self) {
        self.h.iter_mut().for_each(|v| *v = 0.0);
        self.prev_action = None;
    }

    fn step(&mut self, obs: &[f32], avail: &[f32]) -> Result<Decision<'_>, PolicyError> {
        let s = self.blob.spec();
        check_inputs(&s, obs, avail)?;
        let (b, l) = (&self.blob, self.blob.layout);
        let a = s.n_actions;

        // x = [obs, one_hot(prev), one_hot(id)], optionally normalised.
        self.x.iter_mut().for_each(|v| *v = 0.0);
        self.x[..s.obs_dim].copy_from_slice(obs);
        if let Some(u) = self.prev_action {
            self.x[s.obs_dim + u] = 1.0;
        }
        self.x[s.obs_dim + a + self.agent_id] = 1.0;
        if let Some((gamma, beta)) = l.norm {
            let n = self.x.len() as f32;
            let mean = self.x.iter().sum::<f32>() / n;
            let var = self.x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / libm::sqrtf(var + LAYER_NORM_EPS);
            for (k, v) in self.x.iter_mut().enumerate() {
                *v = (*v - mean) * inv * b.w(gamma + k) + b.w(beta + k);
            }
        }

        // Embedding, then PyTorch's GRUCell (gates r, z, n).
        b.affine(l.fc1_w, l.fc1_b, &self.x, &mut self.e);
        self.e.iter_mut().for_each(|v| *v = v.max(0.0));
        b.affine(l.w_ih, l.b_ih, &self.e, &mut self.gi);
        b.affine(l.w_hh, l.b_hh, &self.h, &mut self.gh);
        kernels::gru_update(b.kernel, &mut self.gi, &self.gh, &mut self.h);

        // Masked softmax: unavailable actions get exactly 0.
        match l.head {
            Some((w, bias)) => {
                b.affine(w, bias, &self.h, &mut self.head);
                self.head.iter_mut().for_each(|v| *v = v.max(0.0));
                b.affine(l.fc2_w, l.fc2_b, &self.head, &mut self.probs);
            }
            None => b.affine(l.fc2_w, l.fc2_b, &self.h, &mut self.probs),
        }
        let max = (0..a).filter(|&k| avail[k] > 0.0).map(|k| self.probs[k]).fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for (k, p) in self.probs.iter_mut().enumerate() {
            *p = if avail[k] > 0.0 { libm::expf(*p - max) } else { 0.0 };
            total += *p;
        }
        self.probs.iter_mut().for_each(|p| *p /= total);
        let action = greedy(&self.probs);
        self.prev_action = Some(action);
        Ok(Decision { action, probs: &self.probs })
    }

    fn hidden(&self) -> &[f32] {
        &self.h
    }
}

/// Blobs for tests of the crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A valid blob for `spec` (no LayerNorm) with small pseudo-random weights.
    pub(crate) fn random_blob(spec: &ActorSpec, seed: u32) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::from(MAGIC);
        for v in
            [FORMAT_VERSION, spec.obs_dim as u32, spec.n_actions as u32, spec.n_agents as u32, spec.hidden as u32, 0]
        {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut k = seed.wrapping_add(1);
        for _ in 0..Layout::of(spec, 0).floats {
            k = k.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            out.extend_from_slice(&((k >> 8) as f32 / (1u32 << 24) as f32 - 0.5).to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 2, n_actions: 3, n_agents: 2, hidden: 2 };

    /// A blob for SPEC with every weight `w`, and its checksum fixed up.
    fn blob(w: f32) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::from(MAGIC);
        for v in [FORMAT_VERSION, 2, 3, 2, 2, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for _ in 0..Layout::of(&SPEC, 0).floats {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn refix_crc(b: &mut [u8]) {
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn bad_blobs_are_typed_errors() {
        let good = blob(0.1);
        assert_eq!(good.len(), blob_len(&SPEC, 0));
        assert!(NanoBlob::parse(&good).is_ok());

        let mut b = good.clone();
        b[0] = b'X';
        assert_eq!(NanoBlob::parse(&b).unwrap_err(), BlobError::Magic);
        let mut b = good.clone();
        b[8] = 9;
        refix_crc(&mut b);
        assert_eq!(NanoBlob::parse(&b).unwrap_err(), BlobError::Version { got: 9 });
        let b = &good[..good.len() - 8];
        assert!(matches!(NanoBlob::parse(b).unwrap_err(), BlobError::Size { .. }));
        let mut b = good.clone();
        b[40] ^= 0x40;
        assert!(matches!(NanoBlob::parse(&b).unwrap_err(), BlobError::Checksum { .. }));
        let mut b = good.clone();
        b[24..28].copy_from_slice(&(MAX_HIDDEN as u32 + 1).to_le_bytes());
        assert_eq!(
            NanoBlob::parse(&b).unwrap_err(),
            BlobError::Capacity { field: "hidden", got: MAX_HIDDEN + 1, max: MAX_HIDDEN }
        );
        let mut b = good.clone();
        b[28..32].copy_from_slice(&(FLAG_INPUT_LAYER_NORM | 8).to_le_bytes());
        refix_crc(&mut b);
        assert_eq!(NanoBlob::parse(&b).unwrap_err(), BlobError::Flags { got: 8 });
        // The head layer's flag asks for its H x H + H weights.
        let mut b = good.clone();
        b[28..32].copy_from_slice(&FLAG_HEAD_LAYER.to_le_bytes());
        refix_crc(&mut b);
        assert!(matches!(NanoBlob::parse(&b).unwrap_err(), BlobError::Size { .. }));
        assert_eq!(blob_len(&SPEC, FLAG_HEAD_LAYER), good.len() + 4 * (2 * 2 + 2));
    }

    #[test]
    fn a_step_follows_the_gru_by_hand_and_masks_exactly() {
        // Every weight 0.1: x = [obs 1, 1, prev none 0 0 0, id 1 0] sums to 3;
        // e = relu(0.1 * 3 + 0.1) = 0.4 per unit; gates: gi = 0.1 * 0.8 + 0.1
        // = 0.18, gh = 0.1 (h = 0); r = z = s(0.28); n = tanh(0.18 + r 0.1);
        // h' = (1 - z) n.
        let bytes = blob(0.1);
        let mut p = NanoPolicy::new(&bytes, 0).unwrap();
        let d = p.step(&[1.0, 1.0], &[1.0, 0.0, 1.0]).unwrap();
        assert_eq!(d.probs[1], 0.0);
        assert!((d.probs[0] - 0.5).abs() < 1e-7 && (d.probs[2] - 0.5).abs() < 1e-7, "{:?}", d.probs);
        let s = 1.0 / (1.0 + (-0.28f32).exp());
        let n = (0.18 + s * 0.1f32).tanh();
        let h = (1.0 - s) * n;
        assert!(p.hidden().iter().all(|v| (v - h).abs() < 1e-6), "{:?} vs {h}", p.hidden());
        // Bad input leaves the state alone.
        assert!(p.step(&[f32::NAN, 0.0], &[1.0, 1.0, 1.0]).is_err());
        assert!(p.step(&[0.0, 0.0], &[0.0, 0.0, 0.0]).is_err());
        assert!(p.hidden().iter().all(|v| (v - h).abs() < 1e-6));
        p.reset();
        assert_eq!(p.hidden(), &[0.0, 0.0]);
        assert!(NanoPolicy::new(&bytes, 2).is_err());
    }

    #[test]
    fn misaligned_blobs_decode_to_the_same_numbers() {
        let mut out = std::vec::Vec::from(MAGIC);
        for v in [FORMAT_VERSION, 2, 3, 2, 2, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for k in 0..Layout::of(&SPEC, 0).floats {
            out.extend_from_slice(&(((k * 37) % 11) as f32 * 0.07 - 0.3).to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        let mut shifted = std::vec![0u8];
        shifted.extend_from_slice(&out);
        let (a, b) = (NanoBlob::parse(&out).unwrap(), NanoBlob::parse(&shifted[1..]).unwrap());
        assert_ne!(a.in_place(), b.in_place(), "one copy must take each path");
        let (mut pa, mut pb) = (NanoPolicy::new(&out, 1).unwrap(), NanoPolicy::new(&shifted[1..], 1).unwrap());
        for t in 0..5 {
            let obs = [t as f32 * 0.3, -1.0];
            let da = pa.step(&obs, &[1.0, 1.0, 0.0]).unwrap().probs.to_vec();
            let db = pb.step(&obs, &[1.0, 1.0, 0.0]).unwrap().probs.to_vec();
            for (x, y) in da.iter().zip(&db) {
                assert!((x - y).abs() < 1e-6, "{da:?} vs {db:?}");
            }
        }
    }
}
