//! What the recorder writes, the training crate reads back as batches:
//! episodes of different lengths recorded through `hw::recorder`, loaded
//! with `murmur_train::dataset::DatasetBatches`, come out with the same
//! rewards, actions, masks and the actor inputs the robots built; a
//! tampered file or a dataset of another team is refused by name.

use murmur_hw::recorder::{DatasetHeader, DatasetWriter, EpisodeRecord, Origin, StepRecord, DATASET_VERSION};
use murmur_runtime::ActorSpec;
use murmur_train::dataset::DatasetBatches;
use tch::{Device, Kind, Tensor};

const N: usize = 2;
const OBS: usize = 3;
const A: usize = 2;

fn header() -> DatasetHeader {
    DatasetHeader {
        format_version: DATASET_VERSION,
        environment: "test".into(),
        n_agents: N,
        obs_dim: OBS,
        state_dim: 4,
        n_actions: A,
        safe_action: 0,
    }
}

/// Episode `id` of `steps` steps; step `k` rewards `-(id + k)`, robot `i`
/// takes action `(k + i + id) % 2`.
fn episode(id: u64, steps: usize) -> EpisodeRecord {
    let mut ep = EpisodeRecord::new(id, 100 + id);
    for k in 0..steps {
        let x = (id * 10 + k as u64) as f32;
        ep.push(StepRecord {
            state: vec![x; 4],
            obs: (0..N * OBS).map(|j| x + j as f32 * 0.1).collect(),
            avail: vec![1.0; N * A],
            actions: (0..N).map(|i| ((k + i + id as usize) % 2) as i64).collect(),
            probs: vec![0.5; N * A],
            origin: vec![Origin::Policy as u8; N],
            inference_us: vec![10; N],
            answer_us: vec![100.0; N],
            deadline_miss: vec![0; N],
            reward: -((id as usize + k) as f32),
            agent_rewards: None,
            terminated: false,
            truncated: k + 1 == steps,
            step_us: 200.0,
            time_s: 0.01 * k as f64,
            critic_value: None,
            critic_advantage: None,
            pose: None,
        });
    }
    let x = (id * 10 + steps as u64) as f32;
    ep.finish(vec![x; 4], (0..N * OBS).map(|j| x + j as f32 * 0.1).collect(), vec![1.0; N * A]);
    ep
}

fn spec() -> ActorSpec {
    ActorSpec { obs_dim: OBS, n_actions: A, n_agents: N, hidden: 4 }
}

#[test]
fn recorded_episodes_come_back_as_training_batches() {
    let dir = tempfile::tempdir().unwrap();
    let lengths = [(1u64, 3usize), (2, 5), (3, 4)];
    let mut ds = DatasetWriter::open(dir.path(), header(), None).unwrap();
    for (id, steps) in lengths {
        ds.write(&episode(id, steps)).unwrap();
    }
    let data = DatasetBatches::load(dir.path(), spec(), Device::Cpu).unwrap();
    assert_eq!(data.len(), 3);
    let batch = data.sample(3, 7);
    assert_eq!(batch.actions.size(), [6, 3, N as i64], "T+1 = longest + 1, all three episodes");
    for (col, &steps) in batch.lengths.iter().enumerate() {
        let id = lengths.iter().find(|(_, s)| *s == steps).unwrap().0;
        let col = col as i64;
        let mask = batch.mask.select(1, col);
        assert_eq!(mask.sum(Kind::Float).double_value(&[]), steps as f64, "episode {id}: mask");
        let want_return: f64 = (0..steps).map(|k| -((id as usize + k) as f64)).sum();
        assert_eq!(batch.returns[col as usize], want_return);
        let rewards = Vec::<f32>::try_from(batch.reward.select(1, col).narrow(0, 0, steps as i64)).unwrap();
        assert_eq!(rewards, (0..steps).map(|k| -((id as usize + k) as f32)).collect::<Vec<_>>());
        // Step 2's input of robot 1: its observation, the action it took at
        // step 1, its id, as the robot built it.
        let rec = episode(id, steps);
        let mut want = vec![0.0f32; spec().input_dim()];
        let prev = rec.steps()[1].actions[1] as usize;
        spec().write_input(&rec.steps()[2].obs[OBS..2 * OBS], Some(prev), 1, &mut want).unwrap();
        let got = Vec::<f32>::try_from(batch.inputs.get(2).get(col).get(1)).unwrap();
        assert_eq!(got, want, "episode {id}: actor input at step 2, robot 1");
        let actions = batch.actions.select(1, col).narrow(0, 0, steps as i64);
        let want_actions: Vec<i64> = rec.steps().iter().flat_map(|s| s.actions.clone()).collect();
        assert_eq!(Vec::<i64>::try_from(actions.contiguous().view([-1])).unwrap(), want_actions);
        let last_obs = batch.obs.get(steps as i64).get(col).get(0);
        assert!(last_obs.equal(&Tensor::from_slice(&[0.0f32, 0.1, 0.2]).g_add_scalar((id * 10 + steps as u64) as f64)));
    }
    let two = data.sample(2, 7);
    assert_eq!(two.n_episodes(), 2);
    assert_ne!(data.sample(2, 8).lengths, two.lengths, "seeds 7 and 8 draw different episodes");

    let other = ActorSpec { n_agents: 3, ..spec() };
    let err = DatasetBatches::load(dir.path(), other, Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("manifest.json") && err.contains("2 robots"), "{err}");

    let file = dir.path().join(murmur_hw::recorder::episode_file(2));
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let err = DatasetBatches::load(dir.path(), spec(), Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("episode_000002.safetensors") && err.contains("SHA-256"), "{err}");
}
