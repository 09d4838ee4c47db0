#!/usr/bin/env python3
"""Run JaxMARL's own MAPPO baseline on spread, one seed, its training return to CSV.

docs/results.md sets murmur's MAPPO beside JaxMARL's (`baselines/MAPPO/
mappo_rnn_mpe.py` with `config/mappo_homogenous_rnn_mpe.yaml`, from a
checkout of github.com/FLAIROx/JaxMARL). This driver runs that file as it
is, with wandb replaced by a CSV writer (env_steps, return_mean, wall_s:
JaxMARL's logged `returns`, the team's summed reward per episode), and the
config's values overridden by KEY=VALUE arguments. Nothing of it is part of
murmur; install it in a scratch environment:

    python3 -m venv /tmp/jaxmarl && /tmp/jaxmarl/bin/pip install jaxmarl==0.2.0 distrax hydra-core pyyaml
    git clone https://github.com/FLAIROx/JaxMARL /tmp/JaxMARL
    JAX_PLATFORMS=cpu taskset -c 1 /tmp/jaxmarl/bin/python scripts/jaxmarl_mappo_spread.py \
        /tmp/JaxMARL/baselines/MAPPO 1 2e6 jaxmarl_s1.csv 'ENV_KWARGS={"max_steps": 24}'

`max_steps: 24` gives PettingZoo's (and murmur's) 25-step episodes: JaxMARL's
MPE ends an episode one step later than its `max_steps` says
(scripts/jaxmarl_spread_steps.py shows it).

usage: jaxmarl_mappo_spread.py BASELINE_DIR SEED TOTAL_TIMESTEPS OUT.csv [KEY=VALUE ...]
"""

import csv
import sys
import time
import types

import yaml

baseline, seed, total, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
started = time.time()
log_file = open(out, "w", newline="")
log = csv.writer(log_file)
log.writerow(["env_steps", "return_mean", "wall_s"])


def wandb_log(metrics):
    log.writerow([int(metrics["env_step"]), float(metrics["returns"]), round(time.time() - started, 1)])
    log_file.flush()


wandb = types.ModuleType("wandb")
wandb.log = wandb_log
wandb.init = lambda **kwargs: None
sys.modules["wandb"] = wandb
sys.path.insert(0, baseline)

import jax  # noqa: E402
import mappo_rnn_mpe  # noqa: E402

config = yaml.safe_load(open(f"{baseline}/config/mappo_homogenous_rnn_mpe.yaml"))
# PyYAML reads 2e-3 as a string; OmegaConf, which Hydra uses, as a float.
for key, value in config.items():
    if isinstance(value, str):
        try:
            config[key] = float(value)
        except ValueError:
            pass
config["SEED"] = seed
config["TOTAL_TIMESTEPS"] = total
for override in sys.argv[5:]:
    key, value = override.split("=", 1)
    config[key] = yaml.safe_load(value)
train = jax.jit(mappo_rnn_mpe.make_train(config))
jax.block_until_ready(train(jax.random.PRNGKey(seed)))
print(f"seed {seed}: {total:.0f} steps in {time.time() - started:.0f} s")
