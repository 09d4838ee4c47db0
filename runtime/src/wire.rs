//! The swarm's wire messages (docs/design.md, "Wire"): serde structs encoded
//! with postcard into caller-provided buffers, so neither encoding nor
//! decoding touches the heap. Every message starts with [`WIRE_VERSION`];
//! decoding checks it before anything else, then rejects trailing bytes,
//! lengths that do not fit the actor, non-finite numbers and out-of-range
//! actions, each with its own [`WireError`].
//!
//! Key expressions: `murmur/<swarm>/agent/<id>/obs` carries
//! [`ObservationMsg`] (coordinator to robot), `murmur/<swarm>/agent/<id>/act`
//! carries [`ActionMsg`] (robot to coordinator).

use heapless::Vec as FixedVec;
use serde::{Deserialize, Serialize};

#[cfg(doc)]
use crate::spec::WireDims;
use crate::spec::{ActorSpec, HasWireDims};

/// Version of the message layouts this crate reads and writes.
pub const WIRE_VERSION: u16 = 2;
/// Longest observation a message carries.
pub const MAX_OBS: usize = 1024;
/// Most actions a message carries.
pub const MAX_ACTIONS: usize = 64;
/// Most robots a critic message carries advantages for.
pub const MAX_AGENTS: usize = 256;
/// A buffer this long holds any observation or action message.
pub const MAX_MESSAGE_BYTES: usize = 16 + 5 * MAX_OBS + 5 * MAX_ACTIONS + 64;
/// A buffer this long holds any critic message.
pub const MAX_CRITIC_BYTES: usize = 32 + 5 * MAX_AGENTS;

/// Why a message cannot be encoded or used.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum WireError {
    /// The payload is not a well-formed message (truncated, garbage).
    #[error("{message}: malformed payload ({reason})")]
    Malformed {
        /// Which message was expected.
        message: &'static str,
        /// postcard's reason.
        reason: &'static str,
    },
    /// A layout version this crate does not speak.
    #[error("{message}: wire version {got}, expected {WIRE_VERSION}")]
    Version {
        /// Which message.
        message: &'static str,
        /// The version received.
        got: u16,
    },
    /// Bytes left over after the message.
    #[error("{message}: {extra} trailing bytes after the message")]
    Trailing {
        /// Which message.
        message: &'static str,
        /// How many.
        extra: usize,
    },
    /// A field's length does not fit the actor.
    #[error("{message}: `{field}` has {got} values, expected {expected}")]
    Length {
        /// Which message.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// Values received.
        got: usize,
        /// Values the actor needs.
        expected: usize,
    },
    /// A number is NaN or infinite, or outside its range.
    #[error("{message}: `{field}[{index}]` is {value}, expected {expected}")]
    BadValue {
        /// Which message.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// Position in the field.
        index: usize,
        /// The value received.
        value: f32,
        /// What was expected.
        expected: &'static str,
    },
    /// An action index beyond the actor's actions.
    #[error("{message}: action {got}, expected a value below {n_actions}")]
    ActionOutOfRange {
        /// Which message.
        message: &'static str,
        /// The action received.
        got: u16,
        /// The actor's action count.
        n_actions: usize,
    },
    /// The output buffer is too small.
    #[error("{message}: the encoding buffer is too small")]
    BufferFull {
        /// Which message.
        message: &'static str,
    },
}

/// Coordinator to robot: what agent `id` observes at `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationMsg {
    /// [`WIRE_VERSION`].
    pub version: u16,
    /// The coordinator's session: chosen when it starts, larger than any
    /// earlier session's (microseconds since the Unix epoch). Within one
    /// session (episode, step) strictly increases.
    pub session: u64,
    /// Episode number; a new one resets the recurrent state.
    pub episode: u64,
    /// Step within the episode.
    pub step: u32,
    /// Start a new episode at this step (resets the recurrent state).
    pub reset: bool,
    /// The observation (`obs_dim` finite values).
    pub obs: FixedVec<f32, MAX_OBS>,
    /// The availability mask (`n_actions` values, each 0 or 1).
    pub avail: FixedVec<f32, MAX_ACTIONS>,
}

/// Where a robot's command came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionSource {
    /// The policy decided.
    Policy,
    /// The observation was unusable: the safe action.
    Fallback,
    /// No observation arrived in time: the safe action.
    Stale,
}

/// Robot to coordinator: what agent `id` did at `step`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionMsg {
    /// [`WIRE_VERSION`].
    pub version: u16,
    /// Session of the observation answered.
    pub session: u64,
    /// Episode number of the observation answered.
    pub episode: u64,
    /// Step of the observation answered.
    pub step: u32,
    /// The action taken.
    pub action: u16,
    /// Where it came from.
    pub source: ActionSource,
    /// The policy's probabilities (`n_actions` values in [0, 1]; empty for a
    /// fallback).
    pub probs: FixedVec<f32, MAX_ACTIONS>,
    /// Inference time, microseconds.
    pub inference_us: u32,
    /// SHA-256 of the model that decided.
    pub model_sha256: [u8; 32],
}

/// The file format of an exported actor: what `murmur export` writes, what
/// a robot's policy backend runs and what a deployed model declares. The
/// one spelling of ONNX-or-nano across murmur.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelFormat {
    /// An ONNX actor file (`murmur export --out`), run by ONNX Runtime.
    Onnx,
    /// A nano blob (`murmur export --nano`), run by the pure-Rust policy.
    Nano,
}

impl ModelFormat {
    /// Every format, in the order the CLI lists them.
    pub const ALL: [ModelFormat; 2] = [ModelFormat::Onnx, ModelFormat::Nano];

    /// The name on command lines and in logs: `onnx` or `nano`.
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::Onnx => "onnx",
            ModelFormat::Nano => "nano",
        }
    }
}

impl core::fmt::Display for ModelFormat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`ModelFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown model format, expected `onnx` or `nano`")]
pub struct UnknownModelFormat;

impl core::str::FromStr for ModelFormat {
    type Err = UnknownModelFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelFormat::ALL.into_iter().find(|f| f.name() == s).ok_or(UnknownModelFormat)
    }
}

/// Server to robots (`murmur/<swarm>/model`): a new actor for the swarm's
/// agents, which switch to it at their next episode start. Borrowed from
/// the payload: decoding copies nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMsg<'a> {
    /// [`WIRE_VERSION`].
    pub version: u16,
    /// SHA-256 of `model`; receivers verify it before loading.
    pub sha256: [u8; 32],
    /// The actor's dimensions; receivers check them against their role and
    /// against the file.
    pub spec: ActorSpec,
    /// How `model` is encoded.
    pub format: ModelFormat,
    /// When the operator issued it, microseconds since the Unix epoch:
    /// agents that check signatures refuse a model issued no later than the
    /// one they run (a replayed older model).
    pub issued: u64,
    /// The ed25519 public key that signed it (zero when unsigned).
    pub signer: [u8; 32],
    /// The ed25519 signature of the model's identity (64 bytes; empty when
    /// unsigned). See `model_signing`.
    #[serde(borrow)]
    pub signature: &'a [u8],
    /// The model file's bytes.
    #[serde(borrow)]
    pub model: &'a [u8],
}

impl<'a> ModelMsg<'a> {
    const NAME: &'static str = "model message";

    /// Encodes into `buf` (which must hold the whole model); returns the
    /// bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], WireError> {
        encode(self, buf, Self::NAME)
    }

    /// Bytes [`encode`](Self::encode) needs at most for a model of `len`
    /// bytes.
    pub fn max_encoded_len(len: usize) -> usize {
        len + 256
    }

    /// Decodes `bytes` (the version first, nothing trailing). The hash is
    /// not checked here: that needs SHA-256, which the receiver has.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        decode(bytes, Self::NAME)
    }
}

/// Server to monitors (`murmur/<swarm>/critic/value`): the centralised
/// critic's reading of one step of a hardware-in-the-loop episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticMsg {
    /// [`WIRE_VERSION`].
    pub version: u16,
    /// Episode number.
    pub episode: u64,
    /// Step within the episode.
    pub step: u32,
    /// The critic's value of the step (V(s) or Q(s, u), by learner).
    pub value: f32,
    /// Each robot's advantage (empty when the learner has none).
    pub advantage: FixedVec<f32, MAX_AGENTS>,
}

impl CriticMsg {
    const NAME: &'static str = "critic message";

    /// Encodes into `buf`; returns the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], WireError> {
        encode(self, buf, Self::NAME)
    }

    /// Decodes `bytes`, requiring finite numbers.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let msg: Self = decode(bytes, Self::NAME)?;
        let values = core::iter::once(&msg.value).chain(msg.advantage.iter());
        if let Some((index, &value)) = values.enumerate().find(|(_, v)| !v.is_finite()) {
            let field = if index == 0 { "value" } else { "advantage" };
            let index = index.saturating_sub(1);
            return Err(WireError::BadValue { message: Self::NAME, field, index, value, expected: "a finite number" });
        }
        Ok(msg)
    }
}

fn malformed(message: &'static str) -> impl Fn(postcard::Error) -> WireError {
    move |e| WireError::Malformed {
        message,
        reason: match e {
            postcard::Error::DeserializeUnexpectedEnd => "truncated",
            postcard::Error::DeserializeBadVarint => "bad varint",
            postcard::Error::DeserializeBadBool => "bad bool",
            postcard::Error::DeserializeBadEnum => "bad enum tag",
            _ => "not this message",
        },
    }
}

/// Decodes a `T` whose first field is the version, checking the version
/// first and that nothing trails the message.
fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], message: &'static str) -> Result<T, WireError> {
    let (version, _) = postcard::take_from_bytes::<u16>(bytes).map_err(malformed(message))?;
    if version != WIRE_VERSION {
        return Err(WireError::Version { message, got: version });
    }
    let (msg, rest) = postcard::take_from_bytes::<T>(bytes).map_err(malformed(message))?;
    if !rest.is_empty() {
        return Err(WireError::Trailing { message, extra: rest.len() });
    }
    Ok(msg)
}

fn encode<'b, T: Serialize>(msg: &T, buf: &'b mut [u8], message: &'static str) -> Result<&'b [u8], WireError> {
    postcard::to_slice(msg, buf).map(|b| &*b).map_err(|_| WireError::BufferFull { message })
}

fn check_len(message: &'static str, field: &'static str, got: usize, expected: usize) -> Result<(), WireError> {
    if got == expected {
        Ok(())
    } else {
        Err(WireError::Length { message, field, got, expected })
    }
}

impl ObservationMsg {
    const NAME: &'static str = "observation message";

    /// Encodes into `buf`; returns the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], WireError> {
        encode(self, buf, Self::NAME)
    }

    /// Decodes `bytes` and checks it against the team's dimensions (an
    /// [`ActorSpec`] or [`WireDims`]): `obs_dim` finite observations and
    /// `n_actions` mask values that are 0 or 1.
    pub fn decode(bytes: &[u8], dims: &impl HasWireDims) -> Result<Self, WireError> {
        let spec = dims.wire_dims();
        let msg: Self = decode(bytes, Self::NAME)?;
        check_len(Self::NAME, "obs", msg.obs.len(), spec.obs_dim)?;
        check_len(Self::NAME, "avail", msg.avail.len(), spec.n_actions)?;
        if let Some((index, &value)) = msg.obs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(WireError::BadValue {
                message: Self::NAME,
                field: "obs",
                index,
                value,
                expected: "a finite number",
            });
        }
        if let Some((index, &value)) = msg.avail.iter().enumerate().find(|(_, v)| **v != 0.0 && **v != 1.0) {
            return Err(WireError::BadValue { message: Self::NAME, field: "avail", index, value, expected: "0 or 1" });
        }
        Ok(msg)
    }
}

impl ActionMsg {
    const NAME: &'static str = "action message";

    /// Encodes into `buf`; returns the bytes written.
    pub fn encode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8], WireError> {
        encode(self, buf, Self::NAME)
    }

    /// Decodes `bytes` and checks it against the team's dimensions (an
    /// [`ActorSpec`] or [`WireDims`]): an action below `n_actions` and,
    /// unless empty, `n_actions` probabilities in [0, 1].
    pub fn decode(bytes: &[u8], dims: &impl HasWireDims) -> Result<Self, WireError> {
        let spec = dims.wire_dims();
        let msg: Self = decode(bytes, Self::NAME)?;
        if usize::from(msg.action) >= spec.n_actions {
            return Err(WireError::ActionOutOfRange {
                message: Self::NAME,
                got: msg.action,
                n_actions: spec.n_actions,
            });
        }
        if !msg.probs.is_empty() {
            check_len(Self::NAME, "probs", msg.probs.len(), spec.n_actions)?;
        }
        if let Some((index, &value)) = msg.probs.iter().enumerate().find(|(_, p)| !(0.0..=1.0).contains(*p)) {
            return Err(WireError::BadValue {
                message: Self::NAME,
                field: "probs",
                index,
                value,
                expected: "a probability in [0, 1]",
            });
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ActorSpec = ActorSpec { obs_dim: 3, n_actions: 4, n_agents: 2, hidden: 8 };

    fn obs_msg() -> ObservationMsg {
        ObservationMsg {
            version: WIRE_VERSION,
            session: 42,
            episode: 7,
            step: 3,
            reset: false,
            obs: FixedVec::from_slice(&[0.5, -1.0, 2.0]).unwrap(),
            avail: FixedVec::from_slice(&[1.0, 0.0, 1.0, 1.0]).unwrap(),
        }
    }

    fn act_msg() -> ActionMsg {
        ActionMsg {
            version: WIRE_VERSION,
            session: 42,
            episode: 7,
            step: 3,
            action: 2,
            source: ActionSource::Policy,
            probs: FixedVec::from_slice(&[0.25, 0.0, 0.5, 0.25]).unwrap(),
            inference_us: 12,
            model_sha256: [7; 32],
        }
    }

    #[test]
    fn messages_round_trip() {
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let bytes = obs_msg().encode(&mut buf).unwrap().to_vec();
        assert_eq!(bytes[0], WIRE_VERSION as u8, "the version leads");
        assert_eq!(ObservationMsg::decode(&bytes, &SPEC).unwrap(), obs_msg());
        let bytes = act_msg().encode(&mut buf).unwrap().to_vec();
        assert_eq!(ActionMsg::decode(&bytes, &SPEC).unwrap(), act_msg());
    }

    #[test]
    fn bad_messages_get_their_own_errors() {
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let good = obs_msg().encode(&mut buf).unwrap().to_vec();

        // Version 1 had no session: its messages are refused by version.
        let mut v1 = good.clone();
        v1[0] = 1;
        assert!(matches!(ObservationMsg::decode(&v1, &SPEC), Err(WireError::Version { got: 1, .. })));
        assert!(matches!(
            ObservationMsg::decode(&good[..good.len() - 1], &SPEC),
            Err(WireError::Malformed { reason: "truncated", .. })
        ));
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(ObservationMsg::decode(&long, &SPEC), Err(WireError::Trailing { extra: 1, .. })));

        let mut m = obs_msg();
        m.obs[1] = f32::NAN;
        let b = m.encode(&mut buf).unwrap().to_vec();
        assert!(matches!(ObservationMsg::decode(&b, &SPEC), Err(WireError::BadValue { field: "obs", index: 1, .. })));
        let mut m = obs_msg();
        m.avail[3] = 0.5;
        let b = m.encode(&mut buf).unwrap().to_vec();
        assert!(matches!(ObservationMsg::decode(&b, &SPEC), Err(WireError::BadValue { field: "avail", index: 3, .. })));
        let mut m = obs_msg();
        m.obs.push(1.0).unwrap();
        let b = m.encode(&mut buf).unwrap().to_vec();
        assert!(matches!(
            ObservationMsg::decode(&b, &SPEC),
            Err(WireError::Length { field: "obs", got: 4, expected: 3, .. })
        ));

        let mut a = act_msg();
        a.action = 4;
        let b = a.encode(&mut buf).unwrap().to_vec();
        assert!(matches!(ActionMsg::decode(&b, &SPEC), Err(WireError::ActionOutOfRange { got: 4, .. })));
        let mut a = act_msg();
        a.probs[0] = f32::INFINITY;
        let b = a.encode(&mut buf).unwrap().to_vec();
        assert!(matches!(ActionMsg::decode(&b, &SPEC), Err(WireError::BadValue { field: "probs", .. })));
        // An observation is not an action.
        assert!(ActionMsg::decode(&good, &SPEC).is_err());
        assert!(matches!(obs_msg().encode(&mut [0u8; 8]), Err(WireError::BufferFull { .. })));
    }

    #[test]
    fn model_messages_borrow_the_model_and_check_the_version() {
        let model = [7u8, 1, 2, 3, 4, 5];
        let msg = ModelMsg {
            version: WIRE_VERSION,
            sha256: [9; 32],
            spec: SPEC,
            format: ModelFormat::Nano,
            issued: 5,
            signer: [0; 32],
            signature: &[],
            model: &model,
        };
        let mut buf = [0u8; 256];
        let bytes = msg.encode(&mut buf).unwrap().to_vec();
        assert!(bytes.len() <= ModelMsg::max_encoded_len(model.len()));
        let back = ModelMsg::decode(&bytes).unwrap();
        assert_eq!(back, msg);
        let mut v2 = bytes.clone();
        v2[0] = 9;
        assert!(matches!(ModelMsg::decode(&v2), Err(WireError::Version { got: 9, .. })));
        assert!(ModelMsg::decode(&bytes[..bytes.len() - 2]).is_err());
    }

    #[test]
    fn critic_messages_round_trip_and_refuse_non_finite_values() {
        let mut buf = [0u8; MAX_CRITIC_BYTES];
        let msg = CriticMsg {
            version: WIRE_VERSION,

            episode: 2,
            step: 5,
            value: -12.5,
            advantage: FixedVec::from_slice(&[0.5, -0.25]).unwrap(),
        };
        let bytes = msg.encode(&mut buf).unwrap().to_vec();
        assert_eq!(CriticMsg::decode(&bytes).unwrap(), msg);
        let mut bad = msg.clone();
        bad.advantage[1] = f32::NAN;
        let bytes = bad.encode(&mut buf).unwrap().to_vec();
        assert!(matches!(CriticMsg::decode(&bytes), Err(WireError::BadValue { field: "advantage", index: 1, .. })));
    }

    #[test]
    fn random_and_mutated_payloads_never_panic() {
        // 100,000 payloads: random bytes, truncations and bit flips of good
        // messages. Decoding must return, and anything accepted must hold
        // only finite numbers and in-range actions.
        let mut buf = [0u8; MAX_MESSAGE_BYTES];
        let good_obs = obs_msg().encode(&mut buf).unwrap().to_vec();
        let good_act = act_msg().encode(&mut buf).unwrap().to_vec();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for k in 0..100_000 {
            let base = if k % 2 == 0 { &good_obs } else { &good_act };
            let payload: std::vec::Vec<u8> = match k % 3 {
                0 => (0..next() % 80).map(|_| next() as u8).collect(),
                1 => base[..(next() as usize % (base.len() + 1))].to_vec(),
                _ => {
                    let mut p = base.clone();
                    for _ in 0..1 + next() % 4 {
                        let i = next() as usize % p.len();
                        p[i] ^= 1 << (next() % 8);
                    }
                    p
                }
            };
            if let Ok(m) = ObservationMsg::decode(&payload, &SPEC) {
                assert!(m.obs.iter().all(|v| v.is_finite()) && m.avail.iter().all(|v| *v == 0.0 || *v == 1.0));
                accepted += 1;
            }
            if let Ok(m) = ActionMsg::decode(&payload, &SPEC) {
                assert!(usize::from(m.action) < SPEC.n_actions && m.probs.iter().all(|p| (0.0..=1.0).contains(p)));
                accepted += 1;
            }
        }
        assert!(
            accepted > 0,
            "no mutated payload was ever accepted: the generator is too destructive to test acceptance"
        );
    }
}
