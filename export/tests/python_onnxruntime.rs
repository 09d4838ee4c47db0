//! A client we did not write: Python's onnxruntime (from the project's
//! virtual environment) runs an exported file from the contract alone, a
//! batch of agents at once, and must agree with the trained tch actor.

use std::path::Path;
use std::process::Command;

use murmur_export::{export_onnx, ActorSpec, VerifySettings};
use murmur_train::actor::{masked_probs, Actor, ActorOptions};
use murmur_train::checkpoint::{self, CheckpointMeta};
use tch::{nn, Kind, Tensor};

const CLIENT: &str = r#"
import json, sys
import numpy as np
import onnxruntime as ort

case = json.load(open(sys.argv[1]))
session = ort.InferenceSession(sys.argv[2], providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
feeds = {
    "obs": np.array(case["obs"], dtype=np.float32),
    "prev_action": np.array(case["prev_action"], dtype=np.int64),
    "agent_id": np.array(case["agent_id"], dtype=np.int64),
    "h_in": np.array(case["h_in"], dtype=np.float32),
    "avail": np.array(case["avail"], dtype=np.float32),
}
probs, h_out = session.run(["probs", "h_out"], feeds)
masked = probs[feeds["avail"] == 0.0]
print(json.dumps({
    "prob_error": float(np.abs(probs - np.array(case["probs"])).max()),
    "hidden_error": float(np.abs(h_out - np.array(case["h_out"])).max()),
    "masked_max": float(masked.max()) if masked.size else 0.0,
    "obs_dim": int(meta["murmur.obs_dim"]),
    "inputs": [i.name for i in session.get_inputs()],
}))
"#;

#[test]
fn python_onnxruntime_runs_the_file_and_agrees_with_the_trained_actor() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup", python.display());
    let spec = ActorSpec { obs_dim: 6, n_actions: 4, n_agents: 3, hidden: 16 };
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(21);
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: true, orthogonal_init: false, head_layer: false, observation_only: false };
    let actor = Actor::new(&vs.root(), spec, options);
    let meta = CheckpointMeta::untrained(spec, options, "random");
    let ckpt = checkpoint::save(&dir.path().join("checkpoints"), &vs, &[], meta).unwrap();
    let model = dir.path().join("actor.onnx");
    export_onnx(&ckpt, &model, VerifySettings::default()).unwrap();

    // A batch of 6 agents mid-episode and at episode starts (prev -1).
    let b = 6i64;
    let obs = Tensor::randn([b, 6], (Kind::Float, tch::Device::Cpu));
    let prev: Vec<i64> = vec![-1, 0, 3, 2, -1, 1];
    let ids: Vec<i64> = vec![0, 1, 2, 0, 1, 2];
    let h_in = Tensor::randn([b, 16], (Kind::Float, tch::Device::Cpu)) * 0.5;
    let avail_rows: Vec<f32> =
        vec![1., 1., 1., 1., 0., 1., 0., 1., 1., 0., 0., 0., 0., 0., 1., 1., 1., 1., 0., 1., 0., 0., 1., 1.];
    let avail = Tensor::from_slice(&avail_rows).view([b, 4]);
    let pa = Tensor::from_slice(&prev);
    let pa_hot = pa.clamp_min(0).one_hot(4).to_kind(Kind::Float) * pa.ge(0).to_kind(Kind::Float).unsqueeze(1);
    let id_hot = Tensor::from_slice(&ids).one_hot(3).to_kind(Kind::Float);
    let x = Tensor::cat(&[obs.shallow_clone(), pa_hot, id_hot], 1);
    let (logits, h_out) = tch::no_grad(|| actor.step(&x, &h_in));
    let probs = masked_probs(&logits, &avail);
    let rows =
        |t: &Tensor| -> Vec<Vec<f32>> { (0..t.size()[0]).map(|i| Vec::<f32>::try_from(t.get(i)).unwrap()).collect() };
    let case = serde_json::json!({
        "obs": rows(&obs), "prev_action": prev, "agent_id": ids, "h_in": rows(&h_in),
        "avail": rows(&avail), "probs": rows(&probs), "h_out": rows(&h_out),
    });
    let case_path = dir.path().join("case.json");
    std::fs::write(&case_path, case.to_string()).unwrap();
    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let output = Command::new(&python).arg(&script).arg(&case_path).arg(&model).output().unwrap();
    assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    println!("{report}");
    assert!(report["prob_error"].as_f64().unwrap() <= 1e-5, "{report}");
    assert!(report["hidden_error"].as_f64().unwrap() <= 1e-5, "{report}");
    assert_eq!(report["masked_max"].as_f64().unwrap(), 0.0, "probability on an unavailable action: {report}");
    assert_eq!(report["obs_dim"].as_u64().unwrap(), 6);
    assert_eq!(report["inputs"], serde_json::json!(["obs", "prev_action", "agent_id", "h_in", "avail"]));
}

#[test]
fn python_reads_the_nano_blob_as_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    let spec = ActorSpec { obs_dim: 4, n_actions: 3, n_agents: 2, hidden: 8 };
    let dir = tempfile::tempdir().unwrap();
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let options =
        ActorOptions { input_layer_norm: false, orthogonal_init: false, head_layer: false, observation_only: false };
    let _actor = Actor::new(&vs.root(), spec, options);
    let meta = CheckpointMeta::untrained(spec, options, "random");
    let ckpt = checkpoint::save(&dir.path().join("checkpoints"), &vs, &[], meta).unwrap();
    let blob = dir.path().join("actor.nano");
    murmur_export::export_nano(&ckpt, &blob, VerifySettings::default()).unwrap();
    let script = r#"
import json, sys, zlib
import numpy as np
b = open(sys.argv[1], "rb").read()
head = np.frombuffer(b[8:32], "<u4")
w = np.frombuffer(b[32:-4], "<f4")
print(json.dumps({"magic": b[:8].decode(), "crc_ok": zlib.crc32(b[:-4]) == int.from_bytes(b[-4:], "little"),
                  "header": [int(v) for v in head], "fc1_first": [float(v) for v in w[:3]], "floats": int(w.size)}))
"#;
    let output = Command::new(&python).arg("-c").arg(script).arg(&blob).output().unwrap();
    assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["magic"], "MURMNANO");
    assert_eq!(report["crc_ok"], true, "{report}");
    assert_eq!(report["header"], serde_json::json!([1, 4, 3, 2, 8, 0]));
    let fc1 = Vec::<f32>::try_from(vs.variables()["fc1.weight"].view([-1]).narrow(0, 0, 3)).unwrap();
    let got: Vec<f32> = report["fc1_first"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(got, fc1);
    let (i, h, a) = (4 + 3 + 2, 8, 3);
    assert_eq!(report["floats"].as_u64().unwrap() as usize, h * i + h + 2 * 3 * h * h + 2 * 3 * h + a * h + a);
}

/// Bad inputs, fed by the independent client one case at a time: what the
/// file gives back for each (`nan`: every probability of the row is NaN;
/// `error`: ONNX Runtime refuses the run; `finite`: plausible
/// probabilities). A batch of zero runs in a child process, since ONNX
/// Runtime may abort on it.
const GUARDS: &str = r#"
import json, subprocess, sys
import numpy as np
import onnxruntime as ort

model = sys.argv[1]
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
o, a, n, hd = (int(meta["murmur." + k]) for k in ["obs_dim", "n_actions", "n_agents", "hidden"])
big = np.iinfo(np.int64)

def outcome(obs=0.3, prev=-1, agent=0, h=0.0, batch=2):
    feeds = {"obs": np.full((batch, o), obs, np.float32), "prev_action": np.full(batch, prev, np.int64),
             "agent_id": np.full(batch, agent, np.int64), "h_in": np.full((batch, hd), h, np.float32),
             "avail": np.ones((batch, a), np.float32)}
    try:
        probs, _ = session.run(["probs", "h_out"], feeds)
    except Exception:
        return "error"
    if np.isnan(probs).all():
        return "nan"
    return "finite" if np.isfinite(probs).all() and abs(probs.sum(1) - 1).max() < 1e-5 else "mixed"

cases = {
    "valid": {}, "last valid ids": {"prev": a - 1, "agent": n - 1},
    "nan obs": {"obs": float("nan")}, "inf obs": {"obs": float("inf")}, "-inf obs": {"obs": -float("inf")},
    "nan h": {"h": float("nan")}, "inf h": {"h": float("inf")},
    "agent -1": {"agent": -1}, "agent n": {"agent": n}, "agent min": {"agent": int(big.min)},
    "agent max": {"agent": int(big.max)},
    "prev -2": {"prev": -2}, "prev a": {"prev": a}, "prev min": {"prev": int(big.min)},
    "prev max": {"prev": int(big.max)},
}
report = {name: outcome(**kw) for name, kw in cases.items()}
if len(sys.argv) > 2:
    print(outcome(batch=0))
    sys.exit(0)
child = subprocess.run([sys.executable, sys.argv[0], model, "batch0"], capture_output=True, text=True)
report["batch 0"] = child.stdout.strip() if child.returncode == 0 else "abort %d" % child.returncode
print(json.dumps(report))
"#;

#[test]
fn the_file_turns_bad_inputs_into_nan_or_an_error_for_any_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    for input_layer_norm in [false, true] {
        let spec = ActorSpec { obs_dim: 5, n_actions: 4, n_agents: 3, hidden: 8 };
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let options =
            ActorOptions { input_layer_norm, orthogonal_init: false, head_layer: false, observation_only: false };
        let _actor = Actor::new(&vs.root(), spec, options);
        let meta = CheckpointMeta::untrained(spec, options, "random");
        let ckpt = checkpoint::save(&dir.path().join(format!("ckpt{input_layer_norm}")), &vs, &[], meta).unwrap();
        let model = dir.path().join(format!("actor{input_layer_norm}.onnx"));
        export_onnx(&ckpt, &model, VerifySettings::default()).unwrap();
        let script = dir.path().join("guards.py");
        std::fs::write(&script, GUARDS).unwrap();
        let output = Command::new(&python).arg(&script).arg(&model).output().unwrap();
        assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        println!("layer norm {input_layer_norm}: {report}");
        let expected = serde_json::json!({
            "valid": "finite", "last valid ids": "finite",
            "nan obs": "nan", "inf obs": "nan", "-inf obs": "nan", "nan h": "nan", "inf h": "nan",
            "agent -1": "error", "agent n": "error", "agent min": "error", "agent max": "error",
            "prev -2": "error", "prev a": "error", "prev min": "error", "prev max": "error",
            "batch 0": report["batch 0"].clone(),
        });
        assert_eq!(report, expected);
    }
}
