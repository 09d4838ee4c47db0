//! The offline half end to end through the `murmur` binary: datasets from a
//! trained actor (`collect`), from random actions and from a training run
//! (`train --record`); behaviour cloning from a dataset; the offline actor
//! exported like any other; and one-line errors, with nothing overwritten,
//! for datasets that are truncated, tampered with, empty or of another team.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use sha2::{Digest, Sha256};

use super::{murmur, text};

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    out
}

fn preset(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs").join(name).to_string_lossy().into_owned()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Every file under `dir` with the SHA-256 of its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                format!("{:x}", Sha256::digest(std::fs::read(&path).unwrap())),
            )
        })
        .collect()
}

fn assert_one_line_error(out: &Output, needles: &[&str]) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success; stderr: {err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks `{needle}`: {err}");
    }
    assert!(!err.contains("panicked"), "not a clean error: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
}

/// `murmur train` of the BC preset on `data` into `out`, tiny.
fn train_bc(dir: &Path, data: &str, out: &str, extra: &[&str]) -> Output {
    let data = format!("data.path=\"{data}\"");
    let bc = preset("bc_spread.toml");
    let mut args = vec!["train", "-c", bc.as_str()];
    for set in [data.as_str(), "t_max=400", "batch_episodes=4", "eval_interval=200", "eval_episodes=4"] {
        args.extend(["--set", set]);
    }
    args.extend(extra);
    args.extend(["--device", "cpu", "--out", out]);
    murmur(&args, dir)
}

#[test]
fn datasets_from_collect_and_training_train_bc_whose_actor_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A short COMA run on spread that records every episode it trains on.
    let coma = preset("coma_spread.toml");
    let sets = ["t_max=200", "batch_episodes=2", "eval_interval=0", "save_interval=0"];
    let mut args = vec!["train", "-c", coma.as_str(), "--device", "cpu", "--out", "run", "--record", "replay"];
    for s in sets {
        args.extend(["--set", s]);
    }
    ok(murmur(&args, dir));
    let replay = manifest(&dir.join("replay"));
    assert_eq!(replay["source"]["kind"], "replay");
    assert_eq!(replay["source"]["learner"], "coma");
    assert_eq!(replay["summary"]["episodes"], 8, "4 updates of 2 episodes");
    assert_eq!(replay["summary"]["steps"], 200);

    // The run's actor, sampled with a little exploration.
    let out = ok(murmur(
        &[
            "collect",
            "--run",
            "run",
            "--episodes",
            "6",
            "--epsilon",
            "0.1",
            "--quality",
            "good",
            "--parallel",
            "4",
            "--out",
            "good",
        ],
        dir,
    ));
    assert!(text(&out.stdout).contains("collected 6 episodes (150 steps)"), "{}", text(&out.stdout));
    let good = manifest(&dir.join("good"));
    let actor = std::fs::read(dir.join("run/checkpoints/step_000000200/actor.safetensors")).unwrap();
    assert_eq!(good["source"]["policy_sha256"], format!("{:x}", Sha256::digest(&actor)));
    assert_eq!((good["source"]["kind"].as_str(), good["source"]["quality"].as_str()), (Some("policy"), Some("good")));
    assert_eq!(good["source"]["epsilon"], 0.1);
    assert_eq!(good["episodes"].as_array().unwrap().len(), 6);
    let returns: Vec<f64> =
        good["episodes"].as_array().unwrap().iter().map(|e| e["return"].as_f64().unwrap()).collect();
    let mean = returns.iter().sum::<f64>() / 6.0;
    assert!((good["summary"]["mean_return"].as_f64().unwrap() - mean).abs() < 1e-9);

    // Random actions, from a config alone.
    ok(murmur(&["collect", "--random", "-c", &coma, "--episodes", "3", "--out", "random"], dir));
    let random = manifest(&dir.join("random"));
    assert_eq!(
        (random["source"]["kind"].as_str(), random["source"]["quality"].as_str()),
        (Some("random"), Some("random"))
    );

    // Behaviour cloning from the collected dataset writes a run whose
    // metrics carry BC's diagnostics, and whose actor exports unchanged.
    let before = snapshot(&dir.join("good"));
    ok(train_bc(dir, "good", "bc", &[]));
    let metrics = std::fs::read_to_string(dir.join("bc/metrics.csv")).unwrap();
    assert!(metrics.lines().next().unwrap().contains("bc_loss"), "{metrics}");
    assert_eq!(metrics.lines().count(), 1 + 4, "400 dataset steps in updates of 4 x 25");
    assert_eq!(snapshot(&dir.join("good")), before, "training never writes into its dataset");
    ok(murmur(&["export", "--run", "bc", "-o", "bc.onnx", "--sequences", "4"], dir));
    assert!(std::fs::metadata(dir.join("bc.onnx")).unwrap().len() > 1000);

    // CQL on MACCA's learned rewards: the reward model's figures in the
    // metrics, its masks printed and saved with every checkpoint.
    let cql = preset("cql_spread.toml");
    let mut args = vec!["train", "-c", cql.as_str(), "--device", "cpu", "--out", "cql_macca"];
    for set in [
        "data.path=\"good\"",
        "offline.reward=\"macca\"",
        "offline.macca.pretrain_updates=20",
        "t_max=200",
        "batch_episodes=4",
        "eval_interval=0",
        "eval_episodes=4",
    ] {
        args.extend(["--set", set]);
    }
    let out = ok(murmur(&args, dir));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("MACCA's causal masks") && stdout.contains("agent 2: observation dims"), "{stdout}");
    let metrics = std::fs::read_to_string(dir.join("cql_macca/metrics.csv")).unwrap();
    let header = metrics.lines().next().unwrap();
    assert!(
        header.contains("reward_model_loss") && header.contains("r_hat_corr") && header.contains("td_loss"),
        "{header}"
    );
    let dims: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("cql_macca/checkpoints/step_000000200/causal_dims.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dims["obs_strength"].as_array().unwrap().len(), 3, "one row of mask values per agent");

    // Bad datasets: one line naming the file and what was expected, and
    // neither the dataset nor a run directory written.
    let copy = |name: &str| {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(dir.join("good")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
        to
    };
    let truncated = copy("truncated");
    let file = truncated.join("episode_000002.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let tampered = copy("tampered");
    let file = tampered.join("episode_000003.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    *bytes.last_mut().unwrap() ^= 0x40; // a reward's last byte: still a valid file
    std::fs::write(&file, &bytes).unwrap();
    let empty = copy("empty");
    let mut m = manifest(&empty);
    m["episodes"] = serde_json::json!([]);
    std::fs::write(empty.join("manifest.json"), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("truncated", &[], &["truncated/episode_000002.safetensors", "truncated"]),
        ("tampered", &[], &["tampered/episode_000003.safetensors", "does not match the manifest"]),
        ("empty", &[], &["empty/manifest.json", "no episodes"]),
        ("good", &["--set", "env.n_agents=4"], &["good/manifest.json", "recorded for 3 robots"]),
    ];
    for (data, extra, needles) in cases {
        let before = snapshot(&dir.join(data));
        let out_dir = format!("bad_{data}");
        assert_one_line_error(&train_bc(dir, data, &out_dir, extra), needles);
        assert_eq!(snapshot(&dir.join(data)), before, "{data}: the dataset was written");
        assert!(!dir.join(&out_dir).exists(), "{data}: a run directory was started");
    }
    // An online learner refuses a dataset; an offline one needs one.
    let out = murmur(&["train", "-c", &coma, "--set", "data.path=\"good\"", "--out", "x"], dir);
    assert_one_line_error(&out, &["`data.path`", "learns from its own rollouts"]);
    let out = murmur(&["collect", "--run", "nowhere", "--episodes", "2", "--out", "d"], dir);
    assert_one_line_error(&out, &["nowhere/config.toml"]);

    // An offline run evaluates without its dataset (moved away since).
    std::fs::rename(dir.join("good"), dir.join("moved")).unwrap();
    let out = ok(murmur(&["eval", "--run", "bc", "--episodes", "4"], dir));
    assert!(text(&out.stdout).contains("bc on spread"), "{}", text(&out.stdout));
}
