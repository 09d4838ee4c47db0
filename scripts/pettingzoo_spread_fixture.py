#!/usr/bin/env python3
"""Record PettingZoo MPE v3 `simple_spread` episodes for murmur's replay test.

murmur's spread (train/src/env/spread.rs) claims to be PettingZoo's
simple_spread_v3 step for step. This script records what PettingZoo itself
computes: each episode's starting positions, the actions taken, and after
every step each agent's observation and reward. The Rust test
`train/tests/replay/pettingzoo_spread.rs` places the same world, takes the same
actions and compares.

Regenerate (the file is committed; CI does not run this):

    python3 -m venv /tmp/pz && /tmp/pz/bin/pip install \
        pettingzoo==1.24.3 "gymnasium<1.2" "numpy<2.3" pygame
    /tmp/pz/bin/python scripts/pettingzoo_spread_fixture.py \
        > train/tests/fixtures/pettingzoo_spread_v3.json

(PettingZoo 1.25 moved MPE out into the `mpe2` package; its
simple_spread_v3 gives the same numbers and this script imports it when
pettingzoo.mpe is missing.)
"""

import json
import sys

import numpy as np

try:
    from pettingzoo.mpe import simple_spread_v3
    import pettingzoo

    SOURCE = f"pettingzoo {pettingzoo.__version__} pettingzoo.mpe.simple_spread_v3"
except ImportError:
    from mpe2 import simple_spread_v3
    import mpe2

    SOURCE = f"mpe2 {mpe2.__version__} simple_spread_v3"


def record(n, seed, actions_rng, start=None, steps=25):
    """One episode of `steps` steps; `start` overrides the drawn positions."""
    env = simple_spread_v3.parallel_env(
        N=n, local_ratio=0.5, max_cycles=steps, continuous_actions=False
    )
    env.reset(seed=seed)
    world = env.unwrapped.world
    entities = world.agents + world.landmarks
    if start is not None:
        for e, p in zip(entities, start):
            e.state.p_pos = np.array(p, dtype=np.float64)
    episode = {
        "n_agents": n,
        "start": [e.state.p_pos.tolist() for e in entities],
        "steps": [],
    }
    for t in range(steps):
        actions = actions_rng(t)
        act = {a: int(u) for a, u in zip(env.agents, actions)}
        obs, rewards, terms, truncs, _ = env.step(act)
        episode["steps"].append(
            {
                "actions": [int(u) for u in actions],
                "obs": [obs[a].astype(np.float64).tolist() for a in env.possible_agents],
                "rewards": [float(rewards[a]) for a in env.possible_agents],
                "truncated": bool(all(truncs.values())),
            }
        )
    return episode


def main():
    rng = np.random.default_rng(7)
    episodes = []
    # Random walks from PettingZoo's own start draws, N = 3 and N = 4.
    for n, seed in [(3, 11), (3, 12), (4, 13)]:
        episodes.append(record(n, seed, lambda t, n=n: rng.integers(0, 5, size=n)))
    # A shoving match: agents 0 and 1 start touching and push into each
    # other on every step, so contact forces and one-sided collision
    # penalties (agent 2 stays clear) are exercised throughout.
    start = [[0.0, 0.0], [0.25, 0.05], [-0.6, 0.5], [0.8, -0.6], [-0.7, -0.5], [0.3, 0.9]]
    episodes.append(record(3, 14, lambda t: [2, 1, 3 + t % 2], start=start))
    json.dump({"source": SOURCE, "episodes": episodes}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
