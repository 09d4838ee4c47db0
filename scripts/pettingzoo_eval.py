#!/usr/bin/env python3
"""Run exported murmur actors on PettingZoo's own simple_spread_v3 and count
each episode's return both as murmur does and as EPyMARL does.

murmur's return is the sum of the team's rewards over all 25 steps.
EPyMARL runs PettingZoo through its `PettingZooWrapper`
(src/envs/pz_wrapper.py), which reads each step's rewards for the agents
still in `env.agents` after the step. On the step that ends a
simple_spread_v3 episode PettingZoo empties that list, so the wrapper
reports the episode done with rewards of 0: EPyMARL's returns on this task
leave out the 25th step's reward. Comparing murmur's figures with
EPyMARL's published ones needs the second count (docs/results.md).

    python3 -m venv /tmp/pz && /tmp/pz/bin/pip install \\
        pettingzoo==1.24.3 "gymnasium<1.2" "numpy<2.3" pygame onnxruntime==1.31.1
    murmur export --run runs/mappo_spread --out mappo.onnx
    /tmp/pz/bin/python scripts/pettingzoo_eval.py mappo.onnx [more.onnx ...]

Actions are sampled from the policy (training episodes, `--greedy` for
argmax); every actor is also compared with uniform-random agents. Prints,
per actor, the mean return under both counts with the 95% interval.
"""

import argparse
import sys

import numpy as np
import onnxruntime as ort

try:
    from pettingzoo.mpe import simple_spread_v3
except ImportError:  # PettingZoo 1.25 moved MPE into `mpe2`
    from mpe2 import simple_spread_v3


class OnnxTeam:
    """One exported actor stepping every agent of the team (docs/onnx.md)."""

    def __init__(self, path):
        try:
            self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # ONNX Runtime's errors name the problem
            sys.exit(f"{path}: cannot load: {e}")
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in ("murmur.n_agents", "murmur.hidden", "murmur.n_actions") if k not in meta]
        if missing:
            sys.exit(f"{path}: not a murmur actor (no {', '.join(missing)} in its metadata)")
        if meta.get("murmur.environment", "spread") != "spread":
            sys.exit(f"{path}: trained on {meta['murmur.environment']!r}, not spread")
        self.n_agents = int(meta["murmur.n_agents"])
        self.hidden = int(meta["murmur.hidden"])
        self.n_actions = int(meta["murmur.n_actions"])
        self.name = path

    def begin_episode(self):
        self.h = np.zeros((self.n_agents, self.hidden), np.float32)
        self.prev = -np.ones(self.n_agents, np.int64)

    def act(self, obs, rng, greedy):
        probs, self.h = self.session.run(
            ["probs", "h_out"],
            {
                "obs": obs,
                "prev_action": self.prev,
                "agent_id": np.arange(self.n_agents, dtype=np.int64),
                "h_in": self.h,
                "avail": np.ones((self.n_agents, self.n_actions), np.float32),
            },
        )
        if greedy:
            actions = probs.argmax(1)
        else:
            p = probs.astype(np.float64)
            actions = np.array([rng.choice(len(row), p=row / row.sum()) for row in p])
        self.prev = actions.astype(np.int64)
        return actions


class RandomTeam:
    """Uniform-random agents."""

    def __init__(self, n_agents, n_actions):
        self.n_agents, self.n_actions = n_agents, n_actions
        self.name = "uniform random"

    def begin_episode(self):
        pass

    def act(self, obs, rng, greedy):
        return rng.integers(0, self.n_actions, self.n_agents)


def returns(team, episodes, seed, greedy):
    """Per-episode team returns `(all 25 steps, as EPyMARL counts them)`."""
    env = simple_spread_v3.parallel_env(N=team.n_agents, max_cycles=25, continuous_actions=False)
    rng = np.random.default_rng(seed)
    full, epymarl = np.zeros(episodes), np.zeros(episodes)
    for e in range(episodes):
        obs, _ = env.reset(seed=seed + e)
        agents = list(env.agents)
        team.begin_episode()
        while env.agents:
            actions = team.act(np.stack([obs[a] for a in agents]).astype(np.float32), rng, greedy)
            obs, rewards, _, _, _ = env.step({a: int(u) for a, u in zip(agents, actions)})
            full[e] += sum(rewards.values())
            # EPyMARL's wrapper: `[rewards[k] for k in self._env.agents]`,
            # read after the step (empty on the episode's last step).
            epymarl[e] += sum(rewards[k] for k in env.agents)
    return full, epymarl


def summary(x):
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return f"{x.mean():8.2f} ± {half:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("actors", nargs="+", help="ONNX files from `murmur export`")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--greedy", action="store_true", help="argmax actions instead of sampling")
    args = parser.parse_args()

    teams = [OnnxTeam(path) for path in args.actors]
    teams.append(RandomTeam(teams[0].n_agents, teams[0].n_actions))
    mode = "greedy" if args.greedy else "sampled"
    print(f"PettingZoo simple_spread_v3, {args.episodes} episodes each, {mode} actions; mean ± 95% interval")
    print(f"{'actor':40s} {'all 25 steps':>16s} {'as EPyMARL counts':>18s} {'25th step':>10s}")
    for team in teams:
        full, epymarl = returns(team, args.episodes, args.seed, args.greedy)
        last = (full - epymarl).mean()
        print(f"{team.name:40s} {summary(full):>16s} {summary(epymarl):>18s} {last:10.2f}")


if __name__ == "__main__":
    main()
