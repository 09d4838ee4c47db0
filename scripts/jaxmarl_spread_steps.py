#!/usr/bin/env python3
"""Does JaxMARL's spread (MPE_simple_spread_v3) step like PettingZoo's?

Starts both from the same positions, feeds both the same random actions and
compares observations (velocity, position, landmarks, other agents) and
rewards step by step, then counts each one's episode length. Measured with
jaxmarl 0.2.0 and pettingzoo 1.24.3: they agree to 2.3e-6 (float32) on
every common step, and JaxMARL's episode has 26 steps where PettingZoo's
(and murmur's) has 25, because JaxMARL tests `step >= max_steps` before
counting the step. A scratch environment, as for scripts/jaxmarl_mappo_spread.py:

    /tmp/jaxmarl/bin/pip install "pettingzoo[mpe]==1.24.3"
    JAX_PLATFORMS=cpu /tmp/jaxmarl/bin/python scripts/jaxmarl_spread_steps.py
"""

import jax
import numpy as np
from jaxmarl import make
from pettingzoo.mpe import simple_spread_v3

env = make("MPE_simple_spread_v3")
largest, lengths = 0.0, []
for episode in range(5):
    key = jax.random.PRNGKey(episode)
    obs, state = env.reset(key)
    pz = simple_spread_v3.parallel_env(N=3, max_cycles=25, continuous_actions=False)
    pz.reset(seed=episode)
    world = pz.unwrapped.world
    for i, agent in enumerate(world.agents):
        agent.state.p_pos = np.array(state.p_pos[i], dtype=np.float64)
        agent.state.p_vel = np.zeros(2)
    for j, landmark in enumerate(world.landmarks):
        landmark.state.p_pos = np.array(state.p_pos[3 + j], dtype=np.float64)
    rng = np.random.default_rng(episode)
    steps, pz_steps = 0, None
    while True:
        actions = {f"agent_{i}": int(a) for i, a in enumerate(rng.integers(0, 5, 3))}
        key, step_key = jax.random.split(key)
        obs, state, reward, done, _ = env.step_env(step_key, state, actions)
        steps += 1
        if pz.agents:
            pz_obs, pz_reward, _, pz_truncated, _ = pz.step(actions)
            for a in actions:
                largest = max(largest, float(np.abs(np.array(obs[a])[:14] - pz_obs[a][:14]).max()))
                largest = max(largest, abs(float(reward[a]) - pz_reward[a]))
            if all(pz_truncated.values()):
                pz_steps = steps
        if bool(done["__all__"]):
            break
    lengths.append((steps, pz_steps))
print("episode length (jaxmarl, pettingzoo):", lengths)
print("largest difference in an observation or a reward over the common steps:", largest)
