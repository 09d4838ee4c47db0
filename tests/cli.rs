//! The `murmur` binary end to end: a run directory's files, resume, eval,
//! plot, and one-line errors (never a panic) on bad input.

use std::path::Path;
use std::process::Output;

mod common;

/// The offline half through the binary (`tests/cli/offline.rs`).
#[path = "cli/offline.rs"]
mod offline;

fn murmur(args: &[&str], cwd: &Path) -> Output {
    common::murmur_command().args(args).current_dir(cwd).output().expect("murmur starts")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// A tiny COMA run on spread: 2 episodes per update.
fn tiny_run(dir: &Path, t_max: u64) -> Output {
    let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/coma_spread.toml");
    murmur(
        &[
            "train",
            "-c",
            preset.to_str().unwrap(),
            "--set",
            &format!("t_max={t_max}"),
            "--set",
            "batch_episodes=2",
            "--set",
            "eval_interval=100",
            "--set",
            "eval_episodes=4",
            "--set",
            "save_interval=200",
            "--device",
            "cpu",
            "--out",
            "run",
        ],
        dir,
    )
}

fn assert_clean_error(out: &Output, needle: &str) {
    let all = text(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success; stderr: {all}");
    assert!(all.contains(needle), "stderr lacks `{needle}`: {all}");
    assert!(!all.contains("panicked") && !all.contains("backtrace"), "not a clean error: {all}");
    // Log lines (`[time LEVEL target] ...`, e.g. the open-swarm warning)
    // may come before it; the error itself is one line.
    let err: Vec<&str> = all.trim_end().lines().filter(|l| !l.starts_with('[')).collect();
    assert_eq!(err.len(), 1, "not one line: {all}");
    assert!(err[0].starts_with("error: "), "{all}");
}

#[test]
fn train_writes_a_complete_run_directory_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tiny_run(tmp.path(), 300);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("final greedy evaluation: mean return"));
    assert!(text(&out.stderr).contains("on cpu"), "device not announced: {}", text(&out.stderr));
    let run = tmp.path().join("run");

    // The resolved config says what ran, every default included, and only
    // the learner that ran.
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("t_max = 300") && cfg.contains("td_lambda = 0.8") && cfg.contains("[coma]"), "{cfg}");
    assert!(!cfg.contains("[mappo]") && !cfg.contains("[lica"), "{cfg}");
    // One metrics row per update of 2 episodes x 25 steps: 6 updates.
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let rows: Vec<&str> = metrics.lines().collect();
    assert!(rows[0].starts_with("env_steps,episodes,updates,wall_s,return_mean"), "{}", rows[0]);
    assert_eq!(rows.len(), 1 + 6);
    assert!(rows[6].starts_with("300,12,6,"), "{}", rows[6]);
    // Evaluations land in their column at 100, 200, 300 steps.
    let evals = rows[1..].iter().filter(|r| !r.split(',').nth(7).unwrap().is_empty()).count();
    assert_eq!(evals, 3);
    // Checkpoints at 200 and the final one, with verified hashes.
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    assert_eq!(latest, "step_000000300");
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoints/step_000000300/checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["spec"]["obs_dim"], 18);
    assert_eq!(sidecar["env_steps"], 300);
    assert!(run.join("checkpoints/step_000000200/actor.safetensors").exists());

    // Training again into the same directory without --resume is refused.
    assert_clean_error(&tiny_run(tmp.path(), 300), "--resume");

    // Resume to 500 steps: metrics continue from the checkpoint.
    let out = murmur(&["train", "--out", "run", "--resume", "--set", "t_max=500"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let last = metrics.lines().last().unwrap();
    assert!(last.starts_with("500,20,10,"), "{last}");
    assert_eq!(metrics.lines().count(), 1 + 10);

    // Eval prints the policy's statistics beside the random baseline.
    let out = murmur(&["eval", "--run", "run", "--episodes", "6", "--greedy"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("500 environment steps") && stdout.contains("policy:") && stdout.contains("uniform random:")
    );
    assert!(stdout.contains("95% CI") && stdout.contains("6 episodes"), "{stdout}");

    // Plot writes a PNG.
    let out = murmur(&["plot", "run", "-o", "curves.png"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = std::fs::read(tmp.path().join("curves.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // Render draws the episodes as an animated GIF (its pictures are
    // checked in src/render.rs).
    let out = murmur(&["render", "--run", "run", "--episodes", "2", "--greedy", "-o", "episodes.gif"], tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(2 episodes)"), "{}", text(&out.stdout));
    let gif = std::fs::read(tmp.path().join("episodes.gif")).unwrap();
    assert_eq!(&gif[..6], b"GIF89a");
    assert_clean_error(&murmur(&["render", "--run", "run", "--episodes", "0"], tmp.path()), "--episodes");

    // A checkpoint that does not fit the config is a clear error.
    let cfg_path = run.join("config.toml");
    std::fs::write(&cfg_path, cfg.replace("critic_hidden = 128", "critic_hidden = 32")).unwrap();
    assert_clean_error(&murmur(&["eval", "--run", "run"], tmp.path()), "critic.safetensors: tensor `");
    let err = text(&murmur(&["eval", "--run", "run"], tmp.path()).stderr);
    assert!(err.contains("128") && err.contains("the network built from the config expects"), "{err}");
    std::fs::write(&cfg_path, cfg.replace("hidden = 64", "hidden = 16")).unwrap();
    assert_clean_error(&murmur(&["eval", "--run", "run"], tmp.path()), "made for actor");
}

#[test]
fn bad_configs_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        std::fs::write(tmp.path().join(name), body).unwrap();
    };
    write("unknown.toml", "learner = \"mappo\"\nlearning_rate = 0.1\n");
    write("malformed.toml", "learner = \"mappo\"\n[env\n");
    write("negative.toml", "learner = \"mappo\"\n[mappo]\nlr = -0.001\n");
    write("zero.toml", "learner = \"coma\"\n[env]\nname = \"spread\"\nn_agents = 0\n");
    write("type.toml", "learner = \"coma\"\nt_max = \"lots\"\n");
    let cases = [
        ("missing.toml", "cannot read config missing.toml"),
        ("unknown.toml", "unknown field `learning_rate`"),
        ("malformed.toml", "malformed.toml:2:"),
        ("negative.toml", "`mappo.lr` must be a positive number, got -0.001"),
        ("zero.toml", "`env.n_agents` must be at least 2, got 0"),
        ("type.toml", "invalid type: string \"lots\""),
    ];
    for (file, needle) in cases {
        assert_clean_error(&murmur(&["train", "-c", file, "--out", "r"], tmp.path()), needle);
    }
    assert_clean_error(&murmur(&["eval", "--run", "nowhere"], tmp.path()), "nowhere/config.toml");
    assert_clean_error(&murmur(&["plot", "nowhere"], tmp.path()), "is this a run directory?");
    // The junction is a matrix game: nothing to draw, said before any work.
    std::fs::create_dir(tmp.path().join("junction")).unwrap();
    write("junction/config.toml", "learner = \"coma\"\n[env]\nname = \"junction\"\n");
    assert_clean_error(
        &murmur(&["render", "--run", "junction"], tmp.path()),
        "junction environment has nothing to draw",
    );
}

#[test]
fn hil_and_deploy_refuse_bad_input_with_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let listen = common::free_endpoint();
    let hil = |extra: &[&str]| {
        let mut args = vec!["hil", "--swarm", "clitest", "--listen", &listen];
        args.extend_from_slice(extra);
        murmur(&args, tmp.path())
    };
    assert_clean_error(&hil(&["--env", "nosuch"]), "nosuch");
    assert_clean_error(&hil(&["--env", "spread", "--set", "n_agents=1"]), "env.n_agents");
    assert_clean_error(&hil(&["--env", "spread", "--set", "colour=red"]), "colour");
    assert_clean_error(&hil(&["--env", "spread", "--safe-action", "9"]), "safe action 9");
    assert_clean_error(&hil(&["--critic", "no/such/run"]), "no/such/run");
    // Nobody answers: the timeout names every missing robot.
    assert_clean_error(&hil(&["--env", "spread", "--join-timeout", "1"]), "robots [0, 1, 2] did not come up");
    let deploy = |model: &str| {
        murmur(&["deploy", "--model", model, "--swarm", "clitest", "--wait", "1", "--listen", &listen], tmp.path())
    };
    assert_clean_error(&deploy("missing.onnx"), "missing.onnx: no such file");
    std::fs::write(tmp.path().join("model.onnx"), b"not checked before an agent answers").unwrap();
    let unanswered = deploy("model.onnx");
    assert_clean_error(&unanswered, "no agent of swarm `clitest`");
    // An open swarm says so at start-up.
    assert!(
        text(&unanswered.stderr).contains("WARN") && text(&unanswered.stderr).contains("open swarm (no --private)")
    );
}
