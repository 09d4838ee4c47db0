#!/usr/bin/env python3
"""JaxMARL SMAX's environment steps per second, the workload of murmur's
battle benchmark (train/benches/battle_env.rs), for docs/benchmarks.md.

Each ally picks a uniformly random available action, the heuristic enemy
acts (`HeuristicEnemySMAX`), and a battle that ends starts again at once
(JaxMARL's `step` auto-resets). The steps run inside one jitted
`lax.scan` (at batch 1) or a `vmap` of it (batched), which is how JaxMARL
is meant to be driven; compilation is done before timing. Pin it to one
core, as murmur's benchmark runs on one thread:

    python3 -m venv /tmp/jaxmarl && /tmp/jaxmarl/bin/pip install jaxmarl==0.2.0
    JAX_PLATFORMS=cpu XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \\
        taskset -c 1 /tmp/jaxmarl/bin/python scripts/jaxmarl_smax_steps.py 3m 2s3z 5m_vs_6m

Prints one line per map and batch size: steps per second (a step of a
batch of B battles counts B steps), the best of three timed repeats.
"""

import sys
import time

import jax
import jax.numpy as jnp

from jaxmarl.environments.smax import map_name_to_scenario
from jaxmarl.environments.smax.heuristic_enemy_smax_env import HeuristicEnemySMAX

STEPS = {1: 20_000, 1024: 100}


def rollout(env, steps):
    """A jitted function running `steps` random-action steps of one battle."""

    def step(carry, _):
        key, obs, state = carry
        key, act_key, step_key = jax.random.split(key, 3)
        avail = env.get_avail_actions(state)
        keys = jax.random.split(act_key, env.num_agents)
        actions = {
            a: jax.random.categorical(keys[i], jnp.log(avail[a].astype(jnp.float32)))
            for i, a in enumerate(env.agents)
        }
        obs, state, _, _, _ = env.step(step_key, state, actions)
        return (key, obs, state), None

    def run(key):
        key, reset_key = jax.random.split(key)
        obs, state = env.reset(reset_key)
        (_, obs, state), _ = jax.lax.scan(step, (key, obs, state), None, length=steps)
        return obs, state

    return run


def measure(map_name, batch):
    env = HeuristicEnemySMAX(scenario=map_name_to_scenario(map_name))
    steps = STEPS[batch]
    run = rollout(env, steps)
    fn = jax.jit(run) if batch == 1 else jax.jit(jax.vmap(run))
    keys = jax.random.PRNGKey(0) if batch == 1 else jax.random.split(jax.random.PRNGKey(0), batch)
    jax.block_until_ready(fn(keys))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        jax.block_until_ready(fn(keys))
        best = min(best, time.perf_counter() - start)
    return steps * batch / best


if __name__ == "__main__":
    for map_name in sys.argv[1:] or ["3m", "2s3z", "5m_vs_6m"]:
        for batch in (1, 1024):
            print(f"{map_name} batch {batch}: {measure(map_name, batch):,.0f} steps/s", flush=True)
