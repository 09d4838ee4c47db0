//! Datasets from the simulator: roll an actor (or uniformly random actions)
//! out in batches of parallel episodes and write every episode through the
//! dataset writer, the same files `murmur hil --record` writes. Training
//! runs record their own batches with [`records_of`] ("replay" datasets).

use murmur_runtime::ActorSpec;
use tch::{nn, Kind, Tensor};

use super::schema::{DatasetHeader, EpisodeEntry, Origin, DATASET_VERSION};
use super::writer::{DatasetWriter, EpisodeRecord, StepRecord};
use crate::actor::{Actor, ActorOptions};
use crate::buffer::EpisodeBatch;
use crate::env::batch::Dims;
use crate::env::{Environment, VecEnv};
use crate::rollout::{ActionSelection, Rollout};
use crate::Result;

/// How the collected episodes choose their actions.
#[derive(Clone, Copy)]
pub enum Behaviour<'a> {
    /// A trained actor, sampled (with an exploration floor) or greedy.
    Policy {
        /// The actor.
        actor: &'a Actor,
        /// How it picks actions.
        selection: ActionSelection,
    },
    /// Uniformly random available actions.
    Random,
}

/// The header of a dataset of episodes of `environment` with `dims`.
pub fn header_for(environment: &str, dims: Dims, safe_action: usize) -> DatasetHeader {
    DatasetHeader {
        format_version: DATASET_VERSION,
        environment: environment.to_string(),
        n_agents: dims.n_agents,
        obs_dim: dims.obs_dim,
        state_dim: dims.state_dim,
        n_actions: dims.n_actions,
        safe_action,
    }
}

/// Rolls `episodes` episodes out with `behaviour`, `parallel` at a time, in
/// environments built by `make_env`, and appends them to `writer` (episode
/// numbers continue the dataset's). Environment seeds and action samples
/// come from `seed`. `on_episode` sees each written entry (a progress bar).
pub fn collect(
    make_env: &dyn Fn() -> Box<dyn Environment>,
    behaviour: Behaviour<'_>,
    episodes: usize,
    parallel: usize,
    seed: u64,
    writer: &mut DatasetWriter,
    mut on_episode: impl FnMut(&EpisodeEntry),
) -> Result<()> {
    let device = tch::Device::Cpu;
    let envs = VecEnv::new((0..parallel.clamp(1, episodes.max(1))).map(|_| make_env()).collect())?;
    let dims = envs.dims();
    // Random actions: any actor, with the uniform floor at weight 1.
    let random_vs;
    let random_actor;
    let (actor, selection) = match behaviour {
        Behaviour::Policy { actor, selection } => (actor, selection),
        Behaviour::Random => {
            random_vs = nn::VarStore::new(device);
            let spec =
                ActorSpec { obs_dim: dims.obs_dim, n_actions: dims.n_actions, n_agents: dims.n_agents, hidden: 1 };
            random_actor = Actor::new(&random_vs.root(), spec, ActorOptions::default());
            (&random_actor, ActionSelection::Sample { epsilon: 1.0 })
        }
    };
    let mut rollout = Rollout::new(envs, actor.spec(), seed, device)?;
    let mut left = episodes;
    while left > 0 {
        let batch = rollout.collect(actor, selection);
        let first = writer.next_episode();
        for record in records_of(&batch, first, rollout.episode_seeds()).into_iter().take(left) {
            on_episode(&writer.write(&record)?);
            left -= 1;
        }
    }
    Ok(())
}

/// The episodes of `batch` as dataset records numbered from `first`
/// (`seeds[e]` is episode `e`'s environment seed). Simulated episodes have
/// no network: every action is the policy's, answered at once.
pub fn records_of(batch: &EpisodeBatch, first: u64, seeds: &[u64]) -> Vec<EpisodeRecord> {
    let host = |t: &Tensor| -> Vec<f32> {
        let t = t.to_device(tch::Device::Cpu).to_kind(Kind::Float).contiguous().view(-1);
        Vec::<f32>::try_from(&t).unwrap_or_default()
    };
    let size = batch.obs.size();
    let (t1, b, n, o) = (size[0] as usize, size[1] as usize, size[2] as usize, size[3] as usize);
    let s = batch.state.size()[2] as usize;
    let a = batch.avail.size()[3] as usize;
    let (state, obs, avail, probs) = (host(&batch.state), host(&batch.obs), host(&batch.avail), host(&batch.probs));
    let (reward, terminated) = (host(&batch.reward), host(&batch.terminated));
    let agent_reward = batch.agent_reward.as_ref().map(host);
    let actions: Vec<i64> =
        Vec::<i64>::try_from(&batch.actions.to_device(tch::Device::Cpu).contiguous().view(-1)).unwrap_or_default();
    let row = |t: usize, e: usize| t * b + e;
    (0..b)
        .map(|e| {
            let len = batch.lengths[e].min(t1 - 1);
            let mut record = EpisodeRecord::new(first + e as u64, seeds.get(e).copied().unwrap_or(0));
            for t in 0..len {
                let r = row(t, e);
                let done = terminated[r] > 0.5;
                record.push(StepRecord {
                    state: state[r * s..(r + 1) * s].to_vec(),
                    obs: obs[r * n * o..(r + 1) * n * o].to_vec(),
                    avail: avail[r * n * a..(r + 1) * n * a].to_vec(),
                    actions: actions[r * n..(r + 1) * n].to_vec(),
                    probs: probs[r * n * a..(r + 1) * n * a].to_vec(),
                    origin: vec![Origin::Policy as u8; n],
                    inference_us: vec![0; n],
                    answer_us: vec![0.0; n],
                    deadline_miss: vec![0; n],
                    reward: reward[r],
                    agent_rewards: agent_reward.as_ref().map(|v| v[r * n..(r + 1) * n].to_vec()),
                    terminated: done,
                    truncated: t + 1 == len && !done,
                    step_us: 0.0,
                    time_s: 0.0,
                    critic_value: None,
                    critic_advantage: None,
                    pose: None,
                });
            }
            let r = row(len, e);
            record.finish(
                state[r * s..(r + 1) * s].to_vec(),
                obs[r * n * o..(r + 1) * n * o].to_vec(),
                avail[r * n * a..(r + 1) * n * a].to_vec(),
            );
            record
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{DatasetBatches, DatasetReader};
    use crate::env::{Spread, SpreadConfig};

    fn spread() -> Box<dyn Environment> {
        Box::new(Spread::new(SpreadConfig::default()))
    }

    #[test]
    fn collected_episodes_read_back_as_the_batch_they_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let env = spread();
        let dims = Dims::of(&env);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let spec = ActorSpec { obs_dim: dims.obs_dim, n_actions: dims.n_actions, n_agents: dims.n_agents, hidden: 8 };
        let actor = Actor::new(&vs.root(), spec, ActorOptions::default());
        let mut writer = DatasetWriter::open(dir.path(), header_for("spread", dims, 0), None).unwrap();
        let behaviour = Behaviour::Policy { actor: &actor, selection: ActionSelection::Sample { epsilon: 0.1 } };
        let mut seen = 0;
        collect(&spread, behaviour, 5, 2, 3, &mut writer, |_| seen += 1).unwrap();
        assert_eq!(seen, 5);

        // The same rollout, straight: the dataset holds exactly its episodes.
        let envs = VecEnv::new(vec![spread(), spread()]).unwrap();
        let mut rollout = Rollout::new(envs, spec, 3, tch::Device::Cpu).unwrap();
        let direct = rollout.collect(&actor, ActionSelection::Sample { epsilon: 0.1 });
        let reader = DatasetReader::open(dir.path()).unwrap();
        let m = reader.manifest();
        assert_eq!(m.episodes.len(), 5);
        assert_eq!(m.summary.episodes, 5);
        assert_eq!(m.summary.steps, 5 * 25);
        let first = reader.episode(0).unwrap();
        // The manifest's return is the recorded f32 rewards' sum; the
        // rollout's is an f64 sum: they agree to f32 rounding.
        let (recorded, rolled) = (first.entry.episode_return, direct.returns[0]);
        assert!((recorded - rolled).abs() < 1e-3, "return {recorded} recorded, {rolled} rolled out");
        assert_eq!(first.entry.steps, direct.lengths[0]);
        let truth = first.agent_rewards.as_ref().expect("spread defines per-agent rewards");
        let team: Vec<f32> = truth.chunks(dims.n_agents).map(|r| r.iter().sum()).collect();
        for (got, want) in team.iter().zip(&first.reward) {
            assert!((got - want).abs() < 1e-4, "per-agent rewards sum to the team's: {got} vs {want}");
        }
        assert_eq!(first.truncated.iter().filter(|&&x| x == 1).count(), 1, "spread ends by its time limit");

        // Read back as a training batch, the tensors are the rollout's.
        let data = DatasetBatches::load(dir.path(), spec, tch::Device::Cpu).unwrap();
        let ep: Vec<&_> = vec![&first];
        let back = crate::dataset::reader::to_batch(&ep, reader.header(), spec, tch::Device::Cpu);
        let narrow = |t: &Tensor| t.narrow(1, 0, 1);
        assert_eq!(back.inputs, narrow(&direct.inputs));
        assert_eq!(back.actions.narrow(0, 0, 25), narrow(&direct.actions).narrow(0, 0, 25));
        assert_eq!(back.reward, narrow(&direct.reward));
        assert_eq!(back.agent_reward.unwrap(), narrow(direct.agent_reward.as_ref().unwrap()));
        assert_eq!(data.len(), 5);
    }

    #[test]
    fn random_behaviour_records_uniform_probabilities() {
        let dir = tempfile::tempdir().unwrap();
        let dims = Dims::of(&spread());
        let mut writer = DatasetWriter::open(dir.path(), header_for("spread", dims, 0), None).unwrap();
        collect(&spread, Behaviour::Random, 3, 8, 1, &mut writer, |_| {}).unwrap();
        let ep = DatasetReader::open(dir.path()).unwrap().episode(2).unwrap();
        let uniform = 1.0 / dims.n_actions as f32;
        assert!(ep.probs.iter().all(|&p| (p - uniform).abs() < 1e-6));
        let counts = (0..dims.n_actions).map(|k| ep.actions.iter().filter(|&&u| u == k as i64).count());
        assert!(counts.into_iter().all(|c| c > 0), "every action drawn in 75 draws");
    }
}
