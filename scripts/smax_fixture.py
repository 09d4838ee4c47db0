#!/usr/bin/env python3
"""Record JaxMARL SMAX episodes for murmur's battle replay test.

murmur's battle simulator (train/src/env/battle/) claims to step as
JaxMARL's `HeuristicEnemySMAX` (jaxmarl 0.2.0). This script records what
SMAX itself computes: each episode's start (unit types, positions and
health after reset), the allies' actions (uniform over the available
ones), every random draw the step takes (the cooldown jitter of every unit
at every tick, the heuristic enemy's choice of a visible target to walk
to), the enemy's actions, and after every step the units' positions,
health, cooldowns, the allies' observations and action masks, the world
state, the team reward and whether the episode ended. The Rust test
`train/tests/replay/smax_battle.rs` starts from the same units, takes the same
actions with the same draws and compares.

JAX's generator (threefry) is not reproduced in Rust: the draws are
recomputed here from the keys SMAX derives (the same splits, in the same
order as `HeuristicEnemySMAX.step_env`), stored, and fed to murmur.

Regenerate (the file is committed; CI does not run this):

    python3 -m venv /tmp/jaxmarl && /tmp/jaxmarl/bin/pip install jaxmarl==0.2.0
    JAX_PLATFORMS=cpu /tmp/jaxmarl/bin/python scripts/smax_fixture.py \
        train/tests/fixtures/smax_jaxmarl_0.2.0.json

(The file is an argument: jaxmarl prints a notice on stdout at import.)
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxmarl
from jaxmarl.environments.smax import map_name_to_scenario
from jaxmarl.environments.smax.heuristic_enemy_smax_env import HeuristicEnemySMAX

# (map, seed, allies' policy, step limit): random allies rarely win, so
# some episodes focus fire; one short limit shows where SMAX cuts episodes.
EPISODES = [
    ("3m", 0, "random", 100),
    ("3m", 1, "focus", 100),
    ("3m", 2, "random", 5),
    ("2s3z", 0, "random", 100),
    ("2s3z", 1, "focus", 100),
    ("3s_vs_5z", 0, "random", 100),
    ("3s_vs_5z", 1, "focus", 100),
    ("smacv2_5_units", 0, "random", 100),
    ("smacv2_5_units", 1, "focus", 100),
    ("smacv2_5_units", 2, "focus", 100),
]


def floats(x):
    """A float32 array as nested lists of the shortest decimals that read
    back as the same float32."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 0:
        return float(str(np.float32(a)))
    return [floats(v) for v in a]


def draws(env, key, state):
    """The random numbers `env.step_env(key, state, .)` will draw.

    Returns the heuristic enemies' random target choices (an index into
    their list of visible allies, -1 when none is visible) and the cooldown
    jitter of every unit at every tick, in seconds [ticks][units].
    """
    inner = env._env
    key, action_key = jax.random.split(key)
    enemy_obs = inner.get_obs_unit_list(state.state)
    enemy_obs = jnp.array([enemy_obs[a] for a in env.enemy_agents])
    per_enemy = jax.random.split(action_key, num=env.num_enemies)
    feats = len(inner.unit_features)
    n_other = env.num_allies
    first = (env.num_enemies - 1) * feats
    own = (env.num_allies + env.num_enemies - 1) * feats
    choices = []
    for k in range(env.num_enemies):
        choice_key, _attack_key = jax.random.split(per_enemy[k])
        visible = enemy_obs[k][first:own:feats] > 0
        if bool(jnp.any(visible)):
            index = jax.random.choice(choice_key, jnp.arange(n_other), p=visible / jnp.sum(visible))
            choices.append(int(index))
        else:
            choices.append(-1)
    jitter = []
    step_key = key
    for _ in range(inner.world_steps_per_env_step):
        step_key, tick_key = jax.random.split(step_key)
        keys = jax.random.split(tick_key, num=inner.num_agents)
        jitter.append(
            [
                floats(jax.random.uniform(keys[i], minval=-inner.time_per_step, maxval=2 * inner.time_per_step))
                for i in range(inner.num_agents)
            ]
        )
    return choices, jitter


def units(state):
    s = state.state
    return {
        "positions": floats(s.unit_positions),
        "health": floats(s.unit_health),
        "cooldowns": floats(s.unit_weapon_cooldowns),
        "alive": [bool(a) for a in np.asarray(s.unit_alive)],
    }


def choose(policy, allowed, rng):
    """An ally's action: uniform over the allowed ones, or ("focus") the
    first enemy in range, else east."""
    if policy == "focus":
        attacks = [a for a in allowed if a >= 5]
        if attacks:
            return int(attacks[0])
        return 1 if 1 in allowed else int(allowed[-1])
    return int(rng.choice(allowed))


def record(map_name, seed, policy, max_steps, rng):
    env = HeuristicEnemySMAX(scenario=map_name_to_scenario(map_name), max_steps=max_steps)
    key = jax.random.PRNGKey(seed)
    key, reset_key = jax.random.split(key)
    obs, state = env.reset(reset_key)
    start = units(state)
    start["types"] = [int(t) for t in np.asarray(state.state.unit_types)]
    step = jax.jit(env.step_env)
    steps = []
    for t in range(env._env.max_steps + 1):
        avail = env.get_avail_actions(state)
        actions = {}
        for a in env.agents:
            allowed = np.flatnonzero(np.asarray(avail[a]))
            actions[a] = choose(policy, allowed, rng)
        key, step_key = jax.random.split(key)
        choices, jitter = draws(env, step_key, state)
        # The enemy's actions, as the step will decide them.
        inner = env._env
        _, action_key = jax.random.split(step_key)
        enemy_obs = inner.get_obs_unit_list(state.state)
        enemy_obs = jnp.array([enemy_obs[a] for a in env.enemy_agents])
        enemy_actions, _ = env.get_enemy_actions(action_key, state.enemy_policy_state, enemy_obs)
        obs, state, rewards, dones, _ = step(step_key, state, {a: jnp.int32(u) for a, u in actions.items()})
        avail = env.get_avail_actions(state)
        entry = units(state)
        entry.update(
            {
                "actions": [actions[a] for a in env.agents],
                "enemy_actions": [int(enemy_actions[a]) for a in env.enemy_agents],
                "target_choices": choices,
                "cooldown_jitter": jitter,
                "obs": [floats(obs[a]) for a in env.agents],
                "state": floats(obs["world_state"]),
                "avail": [[int(v) for v in np.asarray(avail[a])] for a in env.agents],
                "reward": floats(rewards[env.agents[0]]),
                "done": bool(dones["__all__"]),
            }
        )
        steps.append(entry)
        if entry["done"]:
            break
    return {
        "map": map_name,
        "seed": seed,
        "policy": policy,
        "max_steps": max_steps,
        "start": start,
        "steps": steps,
    }


def spawn_quantiles(map_name, count=4000):
    """Where and as what units start, over `count` resets: deciles of the
    allies' and the enemies' x and y, and how often each unit type occurs.
    Start positions are drawn by JAX's generator, so murmur's are compared
    by distribution, not replayed."""
    env = HeuristicEnemySMAX(scenario=map_name_to_scenario(map_name))
    keys = jax.random.split(jax.random.PRNGKey(7), count)
    _, states = jax.jit(jax.vmap(env.reset))(keys)
    pos = np.asarray(states.state.unit_positions)
    types = np.asarray(states.state.unit_types)
    a = env.num_allies
    deciles = np.linspace(0.1, 0.9, 9)
    q = lambda v: floats(np.quantile(v, deciles))
    return {
        "map": map_name,
        "resets": count,
        "ally_x": q(pos[:, :a, 0]),
        "ally_y": q(pos[:, :a, 1]),
        "enemy_x": q(pos[:, a:, 0]),
        "enemy_y": q(pos[:, a:, 1]),
        "type_share": floats(np.bincount(types.ravel(), minlength=6) / types.size),
    }


def main():
    rng = np.random.default_rng(2026)
    episodes = []
    for map_name, seed, policy, max_steps in EPISODES:
        episode = record(map_name, seed, policy, max_steps, rng)
        last = episode["steps"][-1]
        print(f"{map_name} seed {seed} ({policy}): {len(episode['steps'])} steps, last reward {last['reward']}", file=sys.stderr)
        episodes.append(episode)
    with open(sys.argv[1], "w") as out:
        spawns = [spawn_quantiles(m) for m in ("3m", "3s_vs_5z", "smacv2_5_units", "smacv2_20_units")]
        json.dump(
            {
                "source": f"jaxmarl {jaxmarl.__version__} HeuristicEnemySMAX (jax {jax.__version__})",
                "episodes": episodes,
                "spawns": spawns,
            },
            out,
            separators=(",", ":"),
        )


if __name__ == "__main__":
    main()
