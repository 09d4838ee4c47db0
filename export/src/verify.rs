//! Self-verification of an exported actor: random sequences through the
//! file (with the runtime's [`OnnxPolicy`] or [`NanoPolicy`]) and through
//! the trained tch actor, compared step by step.

use std::path::Path;

use murmur_runtime::policy::{NanoPolicy, OnnxPolicy};
use murmur_runtime::Policy;
use murmur_train::actor::{masked_probs, Actor};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;
use tch::{Kind, Tensor};

use crate::ExportError;

/// How many random sequences to compare, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifySettings {
    /// Random sequences (at least 64 by default).
    pub sequences: usize,
    /// Steps per sequence.
    pub steps: usize,
    /// Chance that a step starts a new episode (hidden state and previous
    /// action reset on both sides).
    pub reset_probability: f64,
    /// Chance that an action is available (at least one always is).
    pub availability: f64,
    /// Largest allowed absolute difference of probabilities and hidden
    /// states.
    pub tolerance: f64,
    /// Seed of the sequences.
    pub seed: u64,
}

impl Default for VerifySettings {
    fn default() -> Self {
        Self { sequences: 64, steps: 50, reset_probability: 0.1, availability: 0.7, tolerance: 1e-5, seed: 0x6d75 }
    }
}

/// What the comparison measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verification {
    /// Steps compared.
    pub steps: usize,
    /// Largest absolute difference of a probability.
    pub max_prob_error: f64,
    /// Largest absolute difference of a hidden-state value.
    pub max_hidden_error: f64,
    /// Unavailable actions that got a non-zero probability from the file.
    pub masked_mass_violations: usize,
}

/// Runs `settings.sequences` random sequences through the ONNX file
/// `model` and through `actor`; fails when any step differs by more than
/// the tolerance or the file gives probability to an unavailable action.
pub fn verify(actor: &Actor, model: &Path, settings: VerifySettings) -> Result<Verification, ExportError> {
    let mut policies = (0..actor.spec().n_agents)
        .map(|i| OnnxPolicy::load(model, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ExportError::Policy)?;
    compare(actor, &mut policies, settings)
}

/// The same check for a nano blob through [`NanoPolicy`].
pub fn verify_nano(actor: &Actor, blob: &[u8], settings: VerifySettings) -> Result<Verification, ExportError> {
    let mut policies = (0..actor.spec().n_agents)
        .map(|i| NanoPolicy::new(blob, i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ExportError::Policy)?;
    compare(actor, &mut policies, settings)
}

/// Steps `policies` (one per agent id) and `actor` through the same random
/// sequences and measures how far they differ.
pub fn compare<P: Policy>(
    actor: &Actor,
    policies: &mut [P],
    settings: VerifySettings,
) -> Result<Verification, ExportError> {
    let spec = actor.spec();
    if let Some(p) = policies.first() {
        if p.spec() != spec {
            return Err(ExportError::Mismatch(format!("file dims {:?}, actor dims {spec:?}", p.spec())));
        }
    }
    if policies.len() != spec.n_agents {
        return Err(ExportError::Mismatch(format!("{} policies for {} agents", policies.len(), spec.n_agents)));
    }
    let mut rng = Pcg64::seed_from_u64(settings.seed);
    let mut out = Verification { steps: 0, max_prob_error: 0.0, max_hidden_error: 0.0, masked_mass_violations: 0 };
    let mut obs = vec![0f32; spec.obs_dim];
    let mut avail = vec![0f32; spec.n_actions];
    for _ in 0..settings.sequences {
        let agent = rng.random_range(0..spec.n_agents);
        let policy = &mut policies[agent];
        policy.reset();
        let mut h = actor.initial_hidden(1, tch::Device::Cpu);
        let mut prev: Option<usize> = None;
        for step in 0..settings.steps {
            if step > 0 && rng.random_bool(settings.reset_probability) {
                policy.reset();
                h = actor.initial_hidden(1, tch::Device::Cpu);
                prev = None;
            }
            for o in obs.iter_mut() {
                *o = rng.sample::<f32, _>(StandardNormal) * 2.0;
            }
            for a in avail.iter_mut() {
                *a = f32::from(u8::from(rng.random_bool(settings.availability)));
            }
            if !avail.iter().any(|&a| a > 0.0) {
                avail[rng.random_range(0..spec.n_actions)] = 1.0;
            }
            let decision = policy.step(&obs, &avail).map_err(ExportError::Policy)?;
            let (action, probs) = (decision.action, decision.probs.to_vec());

            let mut x = vec![0f32; spec.input_dim()];
            x[..spec.obs_dim].copy_from_slice(&obs);
            if let Some(u) = prev {
                x[spec.obs_dim + u] = 1.0;
            }
            x[spec.obs_dim + spec.n_actions + agent] = 1.0;
            let (expected_probs, next_h) = tch::no_grad(|| {
                let (logits, next_h) = actor.step(&Tensor::from_slice(&x).view([1, -1]), &h);
                (masked_probs(&logits, &Tensor::from_slice(&avail).view([1, -1])), next_h)
            });
            let expected_probs = Vec::<f32>::try_from(expected_probs.view([-1]).to_kind(Kind::Float))?;
            let expected_h = Vec::<f32>::try_from(next_h.view([-1]))?;
            for (k, (p, e)) in probs.iter().zip(&expected_probs).enumerate() {
                out.max_prob_error = out.max_prob_error.max(f64::from((p - e).abs()));
                if avail[k] == 0.0 && *p != 0.0 {
                    out.masked_mass_violations += 1;
                }
            }
            for (a, b) in policy.hidden().iter().zip(&expected_h) {
                out.max_hidden_error = out.max_hidden_error.max(f64::from((a - b).abs()));
            }
            prev = Some(action);
            h = next_h;
            out.steps += 1;
        }
    }
    if out.max_prob_error > settings.tolerance
        || out.max_hidden_error > settings.tolerance
        || out.masked_mass_violations > 0
    {
        return Err(ExportError::Mismatch(format!(
            "over {} steps the file differs from the trained actor by up to {:.3e} in probabilities and {:.3e} in the hidden state (tolerance {:.0e}); {} unavailable actions got probability",
            out.steps, out.max_prob_error, out.max_hidden_error, settings.tolerance, out.masked_mass_violations
        )));
    }
    Ok(out)
}
