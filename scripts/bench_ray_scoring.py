"""Oracle-bound throughput of the batched env with a slow objective, on 0, 1, 2 and 4 scorers.

Run: ``python scripts/bench_ray_scoring.py [--delay 0.05] [--steps 30]`` (needs ``pip install 'molgym[ray]'``)

The final reward is a user function that sleeps ``delay`` seconds per molecule (standing in for
docking), so finished molecules per second are bound by the scorers: about ``workers / delay``.
Each row runs the same random masked steps (B = 32, episodes of at most 6 steps) with the final
rewards scored in this process (0), or on 1, 2, 4 Ray actors, then on as many local processes; the
local Ray instance is started with 4 logical CPUs so that 4 actors fit on this 2-core machine
(sleeping needs no core). Each finished row is printed as it ends.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DELAY = 0.05


def docking_stand_in(mol) -> float:
    """A slow objective: sleeps ``DELAY`` seconds, then returns the heavy-atom count."""
    time.sleep(DELAY)
    return float(mol.GetNumHeavyAtoms())


def run(workers: int, backend: str, steps: int, seed: int) -> tuple[int, float]:
    from molgym.envs import MolEditEnv
    from molgym.envs.vector import MolEditVectorEnv

    env = MolEditVectorEnv(
        MolEditEnv,
        num_envs=32,
        n_workers=workers,
        scorer=backend,
        reward=docking_stand_in,
        min_steps=1,
        max_steps=6,
        info_smiles="none",
    )
    try:
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        finished, began = 0, time.perf_counter()
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(env.sample_actions(rng))
            finished += int((terminated | truncated).sum())
        return finished, time.perf_counter() - began
    finally:
        env.close()


def main() -> None:
    global DELAY
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=0.05, help="seconds per molecule of the slow objective")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    DELAY = args.delay

    import ray
    from rdkit import Chem

    calls = []
    for _ in range(10):
        began = time.perf_counter()
        docking_stand_in(Chem.MolFromSmiles("CCO"))
        calls.append(time.perf_counter() - began)
    per_call = float(np.median(calls))  # this VM's sleeps overshoot: the bound uses what a call takes
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    print(
        f"objective: sleeps {1e3 * DELAY:.0f} ms, a call takes {1e3 * per_call:.0f} ms (median of 10); "
        f"B = 32, {args.steps} steps per row; bound = scorers / call time (scorers started before timing)"
    )
    print(
        f"{'scorers':>8s} {'backend':>8s} {'finished':>9s} {'seconds':>8s} {'molecules/s':>12s} {'bound':>7s} {'of bound':>8s}"
    )
    for backend, counts in (("ray", (0, 1, 2, 4)), ("process", (1, 2, 4))):
        for workers in counts:
            finished, seconds = run(workers, backend, args.steps, args.seed)
            bound = max(workers, 1) / per_call
            name = "here" if workers == 0 else backend
            rate = finished / seconds
            print(
                f"{workers:8d} {name:>8s} {finished:9d} {seconds:8.2f} {rate:12.1f} {bound:7.1f} {rate / bound:8.2f}",
                flush=True,
            )
    ray.shutdown()


if __name__ == "__main__":
    main()
