//! Run configuration: one TOML file per (learner, environment) preset, as
//! PyMARL/EPyMARL users know them. Every hyperparameter of
//! docs/algorithms.md has a key and its default; unknown keys are errors
//! naming the key. `--set a.b=value` overrides apply before checks.
//!
//! `learner` names a row of [`LEARNERS`]; that learner's table (`[mappo]`
//! below) is parsed by the learner's own config type. Run directories of
//! older murmur versions hold every learner's table: the tables of learners
//! that did not run are ignored.
//!
//! ```toml
//! learner = "mappo"
//! t_max = 2_000_000        # training budget in environment steps
//! [env]
//! name = "spread"
//! n_agents = 3
//! [mappo]
//! lr = 7e-4
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::env::{Battle, BattleConfig, Environment, Junction, PredatorPrey, PredatorPreyConfig, Spread, SpreadConfig};
use crate::optim::LrSchedule;
use crate::{Error, Result};

use crate::learner::registry::{self, BatchSource};
pub use crate::learner::{LearnerChoice, LEARNERS};

/// Where tensors live during training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// CUDA when a GPU is usable, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// The first CUDA GPU (an error when none is usable).
    Cuda,
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        })
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            _ => Err(format!("unknown device `{s}`, expected one of auto, cpu, cuda")),
        }
    }
}

/// The simulator and its settings (the `[env]` table; `name` selects it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum EnvConfig {
    /// Cooperative navigation (MPE simple_spread).
    Spread(SpreadConfig),
    /// Predator-prey (MPE simple_tag with a random prey).
    PredatorPrey(PredatorPreyConfig),
    /// The one-step traffic junction of the LICA paper.
    Junction,
    /// StarCraft-like micro battles against a scripted enemy (SMAX).
    Battle(BattleConfig),
}

impl Default for EnvConfig {
    fn default() -> Self {
        EnvConfig::Spread(SpreadConfig::default())
    }
}

impl EnvConfig {
    /// The name used in configs and file metadata.
    pub fn name(&self) -> &'static str {
        match self {
            EnvConfig::Spread(_) => "spread",
            EnvConfig::PredatorPrey(_) => "predator_prey",
            EnvConfig::Junction => "junction",
            EnvConfig::Battle(_) => "battle",
        }
    }

    /// Builds one environment.
    pub fn build(&self) -> Box<dyn Environment> {
        match self {
            EnvConfig::Spread(c) => Box::new(Spread::new(c.clone())),
            EnvConfig::PredatorPrey(c) => Box::new(PredatorPrey::new(c.clone())),
            EnvConfig::Junction => Box::new(Junction::new()),
            EnvConfig::Battle(c) => match Battle::from_config(c) {
                Ok(battle) => Box::new(battle),
                // validate() refused such configs before anything is built.
                Err(e) => unreachable!("invalid battle config: {e}"),
            },
        }
    }

    /// The simulator `name` with its defaults and `key=value` overrides of
    /// its `[env]` settings (`n_agents=4`; an `env.` prefix is accepted).
    pub fn parse(name: &str, overrides: &[String]) -> Result<Self> {
        let mut table = toml::Table::new();
        table.insert("name".into(), toml::Value::String(name.to_string()));
        for o in overrides {
            apply_override(&mut table, o.trim().strip_prefix("env.").unwrap_or(o))?;
        }
        let cfg = EnvConfig::deserialize(toml::Value::Table(table)).map_err(|e| Error::ConfigSyntax {
            origin: format!("environment `{name}`"),
            at: None,
            message: one_line(e.message()),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<()> {
        match self {
            EnvConfig::Spread(c) => {
                check(c.n_agents >= 2, "env.n_agents", "at least 2", c.n_agents)?;
                check(c.max_cycles >= 1, "env.max_cycles", "at least 1", c.max_cycles)?;
                check((0.0..=1.0).contains(&c.local_ratio), "env.local_ratio", "within [0, 1]", c.local_ratio)
            }
            EnvConfig::PredatorPrey(c) => {
                check(c.n_predators >= 1, "env.n_predators", "at least 1", c.n_predators)?;
                check(c.episode_limit >= 1, "env.episode_limit", "at least 1", c.episode_limit)
            }
            EnvConfig::Junction => Ok(()),
            EnvConfig::Battle(c) => {
                check(c.max_steps >= 1, "env.max_steps", "at least 1", c.max_steps)?;
                let (key, got) = match &c.map {
                    Some(map) => ("env.map", format!("`{map}`")),
                    None => ("env.allies", format!("{} allies and {} enemies", c.allies.len(), c.enemies.len())),
                };
                c.scenario().map(|_| ()).or_else(|e| check(false, key, &e, got))
            }
        }
    }
}

/// The shared recurrent actor (docs/algorithms.md section 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActorConfig {
    /// Width of the input layer and of the GRU state.
    pub hidden: usize,
    /// LayerNorm on the actor input (unset: the learner's default, on for MAPPO).
    pub input_layer_norm: Option<bool>,
    /// Orthogonal weight initialisation (unset: the learner's default, on for MAPPO).
    pub orthogonal_init: Option<bool>,
    /// A `hidden`-wide ReLU layer between the GRU and the logits
    /// (JaxMARL's MAPPO actor); off, the logits read the GRU state.
    pub head_layer: bool,
    /// The actor reads its observation only (JaxMARL's MAPPO): its
    /// previous action and its id still reach the network, through weights
    /// held at zero, so exported files and robots are unchanged.
    pub observation_only: bool,
}

impl Default for ActorConfig {
    fn default() -> Self {
        Self { hidden: 64, input_layer_norm: None, orthogonal_init: None, head_layer: false, observation_only: false }
    }
}

/// A whole run: learner, budget, environment and every hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which learner trains the team, with its settings (the `learner` key
    /// and the learner's own table; (de)serialised by [`Config::parse`] and
    /// [`Config::to_toml`], not by serde).
    #[serde(skip)]
    pub learner: LearnerChoice,
    /// Training budget in environment steps (one step = all agents act once).
    #[serde(default = "defaults::t_max")]
    pub t_max: u64,
    /// Seed of everything random (environments, initial weights, sampling).
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    /// Compute device.
    #[serde(default)]
    pub device: DeviceChoice,
    /// How every learning rate of the learner (actor's and critics') moves
    /// over the budget: `constant`, or `linear` from the configured rates
    /// at the first update down to 0 at `t_max` (JaxMARL's `anneal_lr`).
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Whole episodes collected per update, stepped as one batch.
    #[serde(default = "defaults::batch_episodes")]
    pub batch_episodes: usize,
    /// Environment steps between greedy evaluations (0 = never).
    #[serde(default = "defaults::eval_interval")]
    pub eval_interval: u64,
    /// Episodes per greedy evaluation.
    #[serde(default = "defaults::eval_episodes")]
    pub eval_episodes: usize,
    /// Environment steps between checkpoints (a final one is always saved).
    #[serde(default = "defaults::save_interval")]
    pub save_interval: u64,
    /// The simulator.
    #[serde(default)]
    pub env: EnvConfig,
    /// The shared actor network.
    #[serde(default)]
    pub actor: ActorConfig,
    /// Recorded episodes to learn from, for learners that learn offline
    /// (absent: the learner collects its own rollouts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataConfig>,
    /// How an offline learner reads the dataset's rewards (absent for
    /// online learners; filled with its defaults for offline ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<OfflineConfig>,
}

/// `[offline]`: settings every offline learner shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfflineConfig {
    /// Which reward each agent learns from (docs/offline.md).
    pub reward: crate::learner::offline::RewardSource,
    /// MACCA's reward model (read when `reward = "macca"`).
    pub macca: crate::macca::MaccaConfig,
}

/// `[data]`: the episode dataset an offline learner reads (docs/dataset.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The dataset directory (its `manifest.json` and episode files).
    pub path: std::path::PathBuf,
}

mod defaults {
    pub fn t_max() -> u64 {
        2_000_000
    }
    pub fn seed() -> u64 {
        1
    }
    pub fn batch_episodes() -> usize {
        32
    }
    pub fn eval_interval() -> u64 {
        50_000
    }
    pub fn eval_episodes() -> usize {
        32
    }
    pub fn save_interval() -> u64 {
        500_000
    }
}

impl Config {
    /// Reads a config file, applies `key=value` overrides (dotted keys, TOML
    /// values; a bare word is taken as a string), resolves learner-dependent
    /// defaults and validates every value.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::ConfigRead { path: path.to_path_buf(), source })?;
        Self::parse(&text, &path.display().to_string(), overrides)
    }

    /// Like [`load`](Self::load) from a string; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, overrides: &[String]) -> Result<Self> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_error(origin, text, &e))?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let what = if overrides.is_empty() { origin.to_string() } else { format!("{origin} (with --set)") };
        let bad = |message: String| Error::ConfigSyntax { origin: what.clone(), at: None, message };
        let kind = match table.remove("learner") {
            None => return Err(bad("missing field `learner`".into())),
            Some(toml::Value::String(name)) => registry::find(&name).ok_or_else(|| Error::UnknownLearner {
                origin: what.clone(),
                name: name.clone(),
                known: registry::names(),
            })?,
            Some(other) => return Err(bad(format!("`learner` must be a string, got {}", other.type_str()))),
        };
        let mut own = table.remove(kind.name).unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
        // Run directories written before the schedule served every learner
        // hold it in `[mappo]`.
        if let Some(schedule) = own.as_table_mut().and_then(|t| t.remove("lr_schedule")) {
            log::warn!("{what}: `{}.lr_schedule` is read as the top-level `lr_schedule`", kind.name);
            table.entry("lr_schedule").or_insert(schedule);
        }
        // Older run directories hold every learner's table.
        for other in LEARNERS {
            table.remove(other.name);
        }
        let learner = kind.parse(own).map_err(|e| bad(format!("[{}]: {}", kind.name, one_line(e.message()))))?;
        let mut cfg = Config::deserialize(toml::Value::Table(table)).map_err(|e| bad(one_line(e.message())))?;
        cfg.learner = LearnerChoice::from_box(learner);
        cfg.resolve();
        cfg.validate()?;
        Ok(cfg)
    }

    /// The config as TOML, with every default written out: the learner
    /// that runs and its table, no other learner's.
    pub fn to_toml(&self) -> String {
        let name = self.learner.name();
        let mut own = toml::Table::new();
        own.insert(name.to_string(), toml::Value::Table(self.learner.config().to_toml()));
        let run = toml::to_string_pretty(self).expect("a Config always serialises");
        let own = toml::to_string_pretty(&own).expect("a learner table always serialises");
        format!("learner = \"{name}\"\n{run}\n{own}")
    }

    /// Fills in the learner-dependent defaults of the actor (see
    /// [`LearnerConfig::actor_defaults`](crate::learner::LearnerConfig::actor_defaults)),
    /// so the written config says what ran.
    fn resolve(&mut self) {
        let defaults = self.learner.config().actor_defaults();
        self.actor.input_layer_norm.get_or_insert(defaults.input_layer_norm);
        self.actor.orthogonal_init.get_or_insert(defaults.orthogonal_init);
        if self.learner.config().source() == BatchSource::Dataset {
            self.offline.get_or_insert_with(OfflineConfig::default);
        }
    }

    /// The actor's options as resolved (learner defaults filled in).
    pub fn actor_options(&self) -> crate::actor::ActorOptions {
        crate::actor::ActorOptions {
            input_layer_norm: self.actor.input_layer_norm.unwrap_or(false),
            orthogonal_init: self.actor.orthogonal_init.unwrap_or(false),
            head_layer: self.actor.head_layer,
            observation_only: self.actor.observation_only,
        }
    }

    /// Checks every value a learner would choke on.
    pub fn validate(&self) -> Result<()> {
        check(self.t_max >= 1, "t_max", "at least 1", self.t_max)?;
        check(self.batch_episodes >= 1, "batch_episodes", "at least 1", self.batch_episodes)?;
        check(self.actor.hidden >= 1, "actor.hidden", "at least 1", self.actor.hidden)?;
        // LayerNorm's statistics would include the masked inputs in training
        // and the real ones on the robot.
        check(
            !(self.actor.observation_only && self.actor.input_layer_norm == Some(true)),
            "actor.observation_only",
            "false when actor.input_layer_norm is true",
            self.actor.observation_only,
        )?;
        check(self.eval_episodes >= 1, "eval_episodes", "at least 1", self.eval_episodes)?;
        self.env.validate()?;
        let learner = self.learner.config();
        match (learner.source(), &self.data) {
            (BatchSource::Rollouts, Some(data)) => {
                let got = format!(
                    "`{}` for learner `{}`, which learns from its own rollouts",
                    data.path.display(),
                    learner.name()
                );
                check(false, "data.path", "no dataset (only offline learners read one)", got)?
            }
            (BatchSource::Dataset, None) => {
                check(false, "data.path", "a dataset directory (this learner learns offline)", "nothing")?
            }
            _ => {}
        }
        if let Some(offline) = &self.offline {
            offline.macca.validate()?;
        }
        if learner.source() == BatchSource::Rollouts && self.offline.is_some() {
            let got = format!("a table for learner `{}`, which learns from its own rollouts", learner.name());
            check(false, "offline", "absent (only offline learners read it)", got)?
        }
        learner.validate(self.batch_episodes)
    }
}

pub(crate) fn check(ok: bool, key: &str, expected: &str, got: impl std::fmt::Display) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::ConfigValue { key: key.to_string(), expected: expected.to_string(), got: got.to_string() })
    }
}

pub(crate) fn positive(key: &str, v: f64) -> Result<()> {
    check(v > 0.0 && v.is_finite(), key, "a positive number", v)
}

/// A target-network schedule in EPyMARL's convention: a fraction in (0, 1]
/// (soft updates) or a whole number of updates between copies.
pub(crate) fn target_update(key: &str, v: f64) -> Result<()> {
    check(v > 0.0 && (v <= 1.0 || v.fract() == 0.0), key, "a fraction in (0, 1] or a whole number of updates", v)
}

pub(crate) fn unit(key: &str, v: f64) -> Result<()> {
    check((0.0..=1.0).contains(&v), key, "within [0, 1]", v)
}

/// The parser's error with its line and column in `text`.
fn toml_error(origin: &str, text: &str, e: &toml::de::Error) -> Error {
    let at = e.span().map(|s| {
        let before = &text[..s.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, col)
    });
    Error::ConfigSyntax { origin: origin.to_string(), at, message: one_line(e.message()) }
}

/// Joins a multi-line parser message into one line.
fn one_line(msg: &str) -> String {
    msg.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Sets `a.b.c=value` in `table`, creating tables on the way.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<()> {
    let bad = |why: &str| Error::Override { item: item.to_string(), why: why.to_string() };
    let (key, raw) = item.split_once('=').ok_or_else(|| bad("expected key=value"))?;
    let key = key.trim();
    let value = parse_value(raw.trim());
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).ok_or_else(|| bad("empty key"))?;
    let mut node = table;
    for p in parts {
        let entry = node.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry.as_table_mut().ok_or_else(|| bad(&format!("`{p}` is not a table")))?;
    }
    node.insert(last.to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    // Parse as the right-hand side of a TOML assignment; bare words are strings.
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learner::{ComaConfig, MappoConfig};

    fn parse(text: &str, overrides: &[&str]) -> Result<Config> {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::parse(text, "test.toml", &o)
    }

    #[test]
    fn the_schedule_is_the_runs_and_older_run_directories_keep_theirs() {
        let c = parse("learner = \"coma\"\nlr_schedule = \"linear\"", &[]).unwrap();
        assert_eq!(c.lr_schedule, LrSchedule::Linear);
        assert_eq!(parse("learner = \"lica\"", &[]).unwrap().lr_schedule, LrSchedule::Constant);
        // Written before every learner had it: `[mappo] lr_schedule`.
        let old = parse("learner = \"mappo\"\n[mappo]\nlr_schedule = \"linear\"", &[]).unwrap();
        assert_eq!(old.lr_schedule, LrSchedule::Linear);
        assert!(old.to_toml().contains("lr_schedule = \"linear\""));
        let err = parse("learner = \"coma\"\nlr_schedule = \"cosine\"", &[]).unwrap_err().to_string();
        assert!(err.contains("cosine") && err.contains("linear"), "{err}");
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = parse("learner = \"mappo\"", &[]).unwrap();
        let mappo = c.learner.get::<MappoConfig>().unwrap();
        assert_eq!((mappo.lr, mappo.clip, mappo.epochs), (7e-4, 0.2, 10));
        assert_eq!(c.env, EnvConfig::Spread(SpreadConfig::default()));
        assert_eq!(c.actor.input_layer_norm, Some(true));
        let c = parse("learner = \"coma\"", &[]).unwrap();
        let coma = c.learner.get::<ComaConfig>().unwrap();
        assert_eq!((coma.td_lambda, coma.target_update_interval), (0.8, 200));
        assert_eq!(c.actor.orthogonal_init, Some(false));
        assert!(c.learner.get::<MappoConfig>().is_none());
    }

    #[test]
    fn overrides_reach_nested_tables_and_round_trip() {
        let c = parse(
            "learner = \"mappo\"\n[env]\nname = \"spread\"\n",
            &["env.n_agents=4", "mappo.lr=1e-3", "device=cpu", "t_max=1000"],
        )
        .unwrap();
        assert_eq!(c.learner.get::<MappoConfig>().unwrap().lr, 1e-3);
        assert_eq!(c.device, DeviceChoice::Cpu);
        assert_eq!(c.t_max, 1000);
        let EnvConfig::Spread(s) = &c.env else { panic!("not spread") };
        assert_eq!(s.n_agents, 4);
        assert_eq!(parse(&c.to_toml(), &[]).unwrap(), c);
    }

    #[test]
    fn written_configs_hold_only_the_learner_that_ran_and_old_ones_still_load() {
        let c = parse("learner = \"lica\"\n[lica.critic]\nembed = 32\n", &[]).unwrap();
        let written = c.to_toml();
        let table: toml::Table = toml::from_str(&written).unwrap();
        let learner_tables: Vec<&str> = LEARNERS.iter().map(|k| k.name).filter(|n| table.contains_key(*n)).collect();
        assert_eq!(learner_tables, ["lica"], "{written}");
        assert!(written.starts_with("learner = \"lica\"\n"), "{written}");
        assert_eq!(parse(&written, &[]).unwrap(), c);
        // An older run directory's config.toml: every learner's table.
        let old = format!("{written}\n[coma]\nlr_actor = 0.1\n[mappo]\nlr = 0.5\n[maca]\nclip = 0.3\n");
        assert_eq!(parse(&old, &[]).unwrap(), c);
    }

    #[test]
    fn bad_configs_are_one_line_errors_naming_the_problem() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("learner = \"mappo\"\nlrr = 1", &[], "unknown field `lrr`"),
            ("learner = \"mappo\"\n[mappo]\nlr = -1.0", &[], "`mappo.lr` must be a positive number, got -1"),
            ("learner = \"mappo\"\n[mappo]\nepochs = \"ten\"", &[], "invalid type"),
            ("learner = \"mappo\"\n[env]\nname = \"spread\"\nn_agents = 0", &[], "`env.n_agents` must be at least 2"),
            ("learner = \"qmix\"", &[], "unknown learner `qmix`, expected one of coma, mappo"),
            ("learner = \"mappo\"\n[mappo]\nlr_actor = 1", &[], "[mappo]: unknown field `lr_actor`"),
            ("learner = 3", &[], "`learner` must be a string"),
            ("learner = \"mappo\"\n[env]\nname = \"spread\"\nwidth = 3", &[], "unknown field `width`"),
            ("learner = [", &[], "test.toml:1:"),
            ("learner = \"mappo\"", &["mappo.lr"], "expected key=value"),
            ("", &[], "missing field `learner`"),
            ("learner = \"mappo\"", &["data.path=\"rec\""], "`data.path` must be no dataset (only offline learners read one), got `rec` for learner `mappo`, which learns from its own rollouts"),
            ("learner = \"coma\"\n[data]\npath = \"d\"\nepisodes = 3", &[], "unknown field `episodes`"),
        ];
        for (text, overrides, want) in cases {
            let err = parse(text, overrides).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: `{err}` lacks `{want}`");
            assert!(!err.contains('\n'), "multi-line error: {err}");
        }
    }
}
