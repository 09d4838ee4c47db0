//! The one table of learners. The CLI (`murmur learners`, `murmur train`),
//! [`Config`](crate::config::Config), the preset tests and
//! `scripts/compare_learners` all read [`LEARNERS`]: adding a learner is its
//! own module (the learner and its [`LearnerConfig`]), one line here and its
//! presets in `configs/`.

use std::any::Any;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::nn;

use super::Learner;
use crate::env::batch::Dims;
use crate::Result;

/// Every learner murmur trains, in the order docs and tables list them.
pub static LEARNERS: &[LearnerKind] = &[
    LearnerKind::of::<super::ComaConfig>(),
    LearnerKind::of::<super::MappoConfig>(),
    LearnerKind::of::<super::LicaConfig>(),
    LearnerKind::of::<super::SecaConfig>(),
    LearnerKind::of::<super::MacaConfig>(),
    LearnerKind::of::<super::MaeConfig>(),
    LearnerKind::of::<super::BcConfig>(),
    LearnerKind::of::<super::CqlConfig>(),
    LearnerKind::of::<super::IcqConfig>(),
];

/// The learner named `name`, if murmur has it.
pub fn find(name: &str) -> Option<&'static LearnerKind> {
    LEARNERS.iter().find(|k| k.name == name)
}

/// The learners that learn from their own rollouts.
pub fn online() -> impl Iterator<Item = &'static LearnerKind> {
    LEARNERS.iter().filter(|k| k.source == BatchSource::Rollouts)
}

/// The names of every learner, comma-separated (for error messages).
pub fn names() -> String {
    LEARNERS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// What the shared actor's outputs are, once trained by a learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorOutputs {
    /// Policy logits: the policy is their softmax.
    Logits,
    /// Q-values of a Q-learner: the deployed policy is their softmax (a
    /// Boltzmann policy at temperature 1), the greedy policy their argmax.
    QValues,
}

impl ActorOutputs {
    /// The name written into exported files (`logits`, `q_values`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Logits => "logits",
            Self::QValues => "q_values",
        }
    }

    /// How a runtime turns the outputs into actions, in words.
    pub fn policy(self) -> &'static str {
        match self {
            Self::Logits => "softmax of the outputs (the trained policy); greedy: their argmax",
            Self::QValues => {
                "the outputs are Q-values: softmax of them is a Boltzmann policy at temperature 1; greedy: their argmax, the greedy policy over Q"
            }
        }
    }
}

/// What a learner needs to build itself.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The shared actor's parameters, which the learner optimises.
    pub actor_vs: &'a nn::VarStore,
    /// The environments' dimensions.
    pub dims: Dims,
    /// Where the learner's tensors live.
    pub device: tch::Device,
    /// The run's seed (for the learner's own random draws outside libtorch).
    pub seed: u64,
    /// The run's budget in environment steps (learning-rate schedules end
    /// there).
    pub t_max: u64,
    /// The shared actor's dimensions (a Q-learner's target copy is built
    /// from them).
    pub actor: murmur_runtime::ActorSpec,
    /// The shared actor's options.
    pub actor_options: crate::actor::ActorOptions,
    /// How offline learners read rewards (`[offline]`; absent for online
    /// learners).
    pub offline: Option<&'a crate::config::OfflineConfig>,
}

/// Where a learner's batches come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSource {
    /// Fresh rollouts of the actor being trained (online learners).
    Rollouts,
    /// Episodes drawn from a dataset on disk, `[data] path` (offline
    /// learners).
    Dataset,
}

/// The actor switches a learner asks for when the config leaves them unset
/// (`[actor]`'s `input_layer_norm` and `orthogonal_init`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActorDefaults {
    /// LayerNorm on the actor's input.
    pub input_layer_norm: bool,
    /// Orthogonal weight initialisation.
    pub orthogonal_init: bool,
}

/// A learner's configuration: the `[<NAME>]` table of a run config, with
/// its defaults (`Default`), its checks and the learner it builds.
pub trait LearnerConfig:
    Serialize + DeserializeOwned + Default + Clone + PartialEq + Debug + Send + Sync + 'static
{
    /// The learner's name in configs, checkpoints and logs, and its table.
    const NAME: &'static str;
    /// One line for `murmur learners`: the method and its paper.
    const SUMMARY: &'static str;
    /// Where the learner's batches come from.
    const SOURCE: BatchSource = BatchSource::Rollouts;
    /// What the actor's outputs are once this learner trained it.
    const OUTPUTS: ActorOutputs = ActorOutputs::Logits;

    /// Checks every value (errors name the dotted key, `<NAME>.key`);
    /// `batch_episodes` is the run's episodes per update.
    fn validate(&self, batch_episodes: usize) -> Result<()>;

    /// The actor switches this learner wants unless the config sets them.
    fn actor_defaults(&self) -> ActorDefaults {
        ActorDefaults::default()
    }

    /// Builds the learner.
    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>>;
}

/// A [`LearnerConfig`] of any learner: what a run's
/// [`Config`](crate::config::Config) holds.
pub trait AnyLearnerConfig: Debug + Send + Sync {
    /// The learner's name.
    fn name(&self) -> &'static str;
    /// See [`LearnerConfig::SOURCE`].
    fn source(&self) -> BatchSource;
    /// See [`LearnerConfig::validate`].
    fn validate(&self, batch_episodes: usize) -> Result<()>;
    /// See [`LearnerConfig::actor_defaults`].
    fn actor_defaults(&self) -> ActorDefaults;
    /// See [`LearnerConfig::build`].
    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>>;
    /// The table as TOML, every value written out.
    fn to_toml(&self) -> toml::Table;
    /// For downcasting to the concrete config.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting to the concrete config, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn AnyLearnerConfig>;
    /// Equality with a config of any learner.
    fn eq_any(&self, other: &dyn AnyLearnerConfig) -> bool;
}

impl<T: LearnerConfig> AnyLearnerConfig for T {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn source(&self) -> BatchSource {
        T::SOURCE
    }
    fn validate(&self, batch_episodes: usize) -> Result<()> {
        LearnerConfig::validate(self, batch_episodes)
    }
    fn actor_defaults(&self) -> ActorDefaults {
        LearnerConfig::actor_defaults(self)
    }
    fn build(&self, ctx: BuildContext<'_>) -> Result<Box<dyn Learner>> {
        LearnerConfig::build(self, ctx)
    }
    fn to_toml(&self) -> toml::Table {
        match toml::Value::try_from(self) {
            Ok(toml::Value::Table(table)) => table,
            other => unreachable!("a learner config serialises to a TOML table, got {other:?}"),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn clone_box(&self) -> Box<dyn AnyLearnerConfig> {
        Box::new(self.clone())
    }
    fn eq_any(&self, other: &dyn AnyLearnerConfig) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// One row of [`LEARNERS`]: a learner's name, summary and config parser.
#[derive(Debug)]
pub struct LearnerKind {
    /// The name in configs (`learner = "mappo"`) and of its table.
    pub name: &'static str,
    /// The method and its paper, in one line.
    pub summary: &'static str,
    /// Fresh rollouts (online) or a dataset (offline).
    pub source: BatchSource,
    /// What the actor's outputs are once trained.
    pub outputs: ActorOutputs,
    parse: fn(toml::Value) -> std::result::Result<Box<dyn AnyLearnerConfig>, toml::de::Error>,
}

impl LearnerKind {
    /// The row of the learner configured by `T`.
    pub const fn of<T: LearnerConfig>() -> Self {
        Self { name: T::NAME, summary: T::SUMMARY, source: T::SOURCE, outputs: T::OUTPUTS, parse: parse_as::<T> }
    }

    /// The learner's config from its table (missing keys take defaults,
    /// unknown keys are errors); not yet validated.
    pub fn parse(&self, table: toml::Value) -> std::result::Result<Box<dyn AnyLearnerConfig>, toml::de::Error> {
        (self.parse)(table)
    }
}

fn parse_as<T: LearnerConfig>(table: toml::Value) -> std::result::Result<Box<dyn AnyLearnerConfig>, toml::de::Error> {
    Ok(Box::new(T::deserialize(table)?))
}

/// The configured learner of a run: any registered learner's config.
#[derive(Debug)]
pub struct LearnerChoice(Box<dyn AnyLearnerConfig>);

impl LearnerChoice {
    /// The choice of learner `T` with config `cfg`.
    pub fn new<T: LearnerConfig>(cfg: T) -> Self {
        Self(Box::new(cfg))
    }

    /// Wraps an already boxed config.
    pub fn from_box(cfg: Box<dyn AnyLearnerConfig>) -> Self {
        Self(cfg)
    }

    /// The learner's name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The config as learner `T`'s, if `T` is the chosen learner.
    pub fn get<T: LearnerConfig>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// The config as learner `T`'s, mutably.
    pub fn get_mut<T: LearnerConfig>(&mut self) -> Option<&mut T> {
        self.0.as_any_mut().downcast_mut()
    }

    /// The config, whichever learner it is.
    pub fn config(&self) -> &dyn AnyLearnerConfig {
        self.0.as_ref()
    }
}

impl Clone for LearnerChoice {
    fn clone(&self) -> Self {
        Self(self.0.clone_box())
    }
}

impl PartialEq for LearnerChoice {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_any(other.0.as_ref())
    }
}

impl Default for LearnerChoice {
    /// MAPPO with its defaults.
    fn default() -> Self {
        Self::new(super::MappoConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_parses_its_own_empty_table() {
        for (i, kind) in LEARNERS.iter().enumerate() {
            assert!(LEARNERS[..i].iter().all(|k| k.name != kind.name), "{} twice", kind.name);
            let cfg = kind.parse(toml::Value::Table(toml::Table::new())).unwrap();
            assert_eq!(cfg.name(), kind.name);
            cfg.validate(32).unwrap();
            let again = kind.parse(toml::Value::Table(cfg.to_toml())).unwrap();
            assert!(again.eq_any(cfg.as_ref()), "{} does not round-trip", kind.name);
        }
        assert!(find("qmix").is_none());
    }
}
