"""Random masked steps per second: the single env, SyncVectorEnv, and the native batched env.

Run: ``python scripts/bench_env.py [--part startup|single|vector|all] [--steps 20000] [--seed 0]``

Every figure is measured in this one run, on this machine, with uniformly random legal actions,
and the tables print ratios side by side. Rates are medians over chunks (1,000 single-env steps;
one vector step, i.e. B molecule-steps), since this VM stalls now and then, for up to seconds:
a whole-run rate mixes them in at random, the median chunk does not.

``single`` (the MolEdit-v0 targets): the single env with no final reward and with QED, with
``info["smiles"]`` on every step (``info_smiles="step"``, the default) and only at reset and
episode end (``"end"``, the training setting); RDKit's own QED and SA time per molecule on the
final molecules of the run; the env's overhead per finished molecule with QED (time of the
episode-ending steps with QED minus without, over identical episodes). Reference: the original
GCPN environment does about 1,000 random steps/s on one core. Targets: >= 15,000 steps/s
without final reward with ``info_smiles="end"``; QED overhead <= 1.5x RDKit's QED+SA time.

``startup``: ``import molgym``, ``gym.make`` + ``reset`` and the first step, in fresh processes:
first with an empty compiled-kernel cache (a fresh install: the engine's kernels are compiled
then, :mod:`molgym.chem.engine`), then with the cache that run wrote (every later process); and
then, in the same process, the native vector env's make + reset + first step at B = 256 (it runs
the kernels the single env compiled).

``vector``: SyncVectorEnv of B single envs and the native batched env at B = 64, 256, 1024,
timing ``env.step`` (the random actions are drawn before the clock starts; rates with the sampler's
time added are printed beside, without final reward),
without final reward (``info_smiles="end"`` as in training, and ``"none"``) and with QED
(``n_workers`` 0: scored in the env's process; 1 and 2: worker processes, overlapping the masks);
bytes of memory per molecule state; each row the faster of two runs. Targets: native >= 30x
SyncVectorEnv at B = 256 without final reward and ``info_smiles="none"``, >= 12x with ``"end"``; with QED, within 1.5x of the bound that RDKit's
QED+SA time per finished molecule sets (steps per episode / QED+SA time, times the workers).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import gymnasium as gym
import numpy as np
from rdkit import Chem
from rdkit.Chem import QED

import molgym  # noqa: F401 - registers the environments
from molgym.envs import MolEditEnv
from molgym.envs.vector import MolEditVectorEnv
from molgym.rewards import sa_score


# Single env -----------------------------------------------------------------------------------
def median_rate(counts: list[int], seconds: list[float]) -> float:
    """Median of the per-chunk rates: this VM stalls for whole seconds now and then, which a
    whole-run rate mixes in at random; the median chunk does not see them."""
    return float(np.median(np.array(counts) / np.array(seconds)))


def run_single(env: MolEditEnv, steps: int, seed: int, chunk: int = 1000) -> dict:
    """Random masked steps; the rate (median over chunks of ``chunk`` steps), the final SMILES
    and the time of the episode-ending steps."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    finals, final_steps, chunks = [], 0.0, []
    clock = time.perf_counter
    last = clock()
    for i in range(steps):
        if i and i % chunk == 0:
            now = clock()
            chunks.append(now - last)
            last = now
        legal = np.flatnonzero(env.action_masks())
        action = env.layout.to_multidiscrete(int(legal[rng.integers(legal.size)]))
        t0 = clock()
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            final_steps += clock() - t0
            finals.append(env.smiles)
            env.reset()
    chunks.append(clock() - last)
    rate = median_rate([chunk] * (len(chunks) - 1) + [steps - chunk * (len(chunks) - 1)], chunks)
    return {
        "rate": rate,
        "elapsed": steps / rate,
        "episodes": len(finals),
        "finals": finals,
        "final_steps": final_steps,
    }


def rdkit_time_per_molecule(smiles: list[str]) -> tuple[float, float]:
    """Seconds per molecule of RDKit's QED and of SA on these molecules (already parsed)."""
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    begin = time.perf_counter()
    for m in mols:
        QED.qed(m)
    qed = (time.perf_counter() - begin) / len(mols)
    begin = time.perf_counter()
    for m in mols:
        sa_score(m)
    return qed, (time.perf_counter() - begin) / len(mols)


def single_part(steps: int, seed: int, repeats: int) -> None:
    configs = [(reward, mode) for mode in ("end", "step") for reward in ("none", "qed")]
    best: dict[tuple[str, str], dict] = {}
    for _ in range(repeats):  # interleaved, fastest of the repeats: this VM's speed drifts
        for reward_name, mode in configs:
            env = MolEditEnv(reward=[] if reward_name == "none" else None, info_smiles=mode)
            result = run_single(env, steps, seed)
            if (reward_name, mode) not in best or result["elapsed"] < best[(reward_name, mode)]["elapsed"]:
                best[(reward_name, mode)] = result
    print(f"== single env: {steps} random masked steps per row, fastest of {repeats} interleaved repeats")
    print(f"{'final reward':14s} {'info_smiles':>12s} {'steps/s':>9s} {'episodes':>9s} {'vs GCPN ~1k':>12s}")
    for reward_name, mode in configs:
        r = best[(reward_name, mode)]
        print(f"{reward_name:14s} {mode:>12s} {r['rate']:9.0f} {r['episodes']:9d} {r['rate'] / 1000:11.1f}x")
    for mode in ("end", "step"):
        none, qed = best[("none", mode)], best[("qed", mode)]
        assert qed["finals"] == none["finals"]  # same seed, same actions, same molecules
        overhead = (qed["final_steps"] - none["final_steps"]) / max(qed["episodes"], 1)
        qed_time, sa_time = rdkit_time_per_molecule(qed["finals"])
        print(
            f"info_smiles={mode}: RDKit QED {qed_time * 1e3:.2f} ms + SA {sa_time * 1e3:.2f} ms per molecule; "
            f"env overhead per finished molecule with QED {overhead * 1e3:.2f} ms = "
            f"{overhead / (qed_time + sa_time):.2f}x QED+SA (target <= 1.5x: "
            f"{'met' if overhead <= 1.5 * (qed_time + sa_time) else 'NOT met'})"
        )
    top = best[("none", "end")]["rate"]
    print(
        f"target >= 15,000 steps/s without final reward, info_smiles='end': {top:.0f} ({'met' if top >= 15000 else 'NOT met'})"
    )


# Vector envs ----------------------------------------------------------------------------------
def run_vector(envs, steps: int, seed: int) -> dict:
    """Batched random masked steps (the same sampler for both kinds of vector env): the median
    single-step rate of ``envs.step`` itself, the same with the sampler's time added (the random
    agent's work: one pass over the ``(B, K)`` masks), and the whole run's rate of ``envs.step``
    (which holds the bursty final rewards, and stalls)."""
    rng = np.random.default_rng(seed)
    _, info = envs.reset(seed=seed)
    layout = envs.unwrapped.layout if hasattr(envs, "layout") else envs.envs[0].unwrapped.layout
    masks = info["action_mask"]
    finished, seconds, sampling, counts = 0, [], [], []
    for _ in range(steps):
        begin = time.perf_counter()
        actions = layout.sample(masks, rng)
        sampled = time.perf_counter()
        _, _, terminated, truncated, info = envs.step(actions)
        masks = info["action_mask"]
        seconds.append(time.perf_counter() - sampled)
        sampling.append(sampled - begin)
        counts.append(envs.num_envs)
        finished += int((terminated | truncated).sum())
    with_sampler = [a + b for a, b in zip(seconds, sampling)]
    return {
        "rate": median_rate(counts, seconds),
        "with_sampler": median_rate(counts, with_sampler),
        "whole": sum(counts) / sum(seconds),
        "finished": finished,
    }


def sync_env(num_envs: int, **kwargs):
    return gym.make_vec("MolEdit-v0", num_envs=num_envs, vectorization_mode="sync", **kwargs)


def bytes_per_molecule_single(count: int = 64) -> float:
    tracemalloc.start()
    envs = [MolEditEnv(info_smiles="end") for _ in range(count)]
    for e in envs:
        e.reset(seed=0)
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return used / count


def vector_part(molecule_steps: int, seed: int) -> None:
    print(f"== vector envs: about {molecule_steps} random masked molecule-steps per row")
    rows = []
    settings = [
        ("none", "end", 0, {"reward": []}),
        ("none", "none", 0, {"reward": [], "info_smiles": "none"}),
        ("qed", "end", 0, {}),
        ("qed", "end", 1, {}),
        ("qed", "end", 2, {}),
    ]

    for reward_name, smiles, workers, kwargs in settings:
        kwargs = {"info_smiles": "end", **kwargs}
        # without final reward every step costs about the same: the median step's rate; with QED the
        # molecules that finish make some steps far longer: the whole run's rate
        measure = "rate" if reward_name == "none" else "whole"

        def best_of_two(make, steps, measure=measure):
            """The better of two runs of a fresh env from ``make()`` (called at once, in this iteration)."""
            runs = []
            for _ in range(2):
                envs = make()
                runs.append(run_vector(envs, steps, seed))
                envs.close()
            best = max(runs, key=lambda run: run[measure])
            return best[measure], (best["with_sampler"] if measure == "rate" else None)

        if workers == 0:
            single = max(run_single(MolEditEnv(**kwargs), molecule_steps, seed)["rate"] for _ in range(2))
            rows.append(("single env", 1, reward_name, smiles, workers, single, None))
            sync = best_of_two(lambda: sync_env(256, **kwargs), max(molecule_steps // 256, 8))  # noqa: B023
            rows.append(("SyncVectorEnv", 256, reward_name, smiles, workers, *sync))
        for B in (64, 256, 1024):
            rate = best_of_two(
                lambda: MolEditVectorEnv(MolEditEnv, num_envs=B, n_workers=workers, **kwargs),  # noqa: B023
                max(molecule_steps // B, 8),
            )
            rows.append(("native batched", B, reward_name, smiles, workers, *rate))
    sync_rate = {(r[2], r[3]): r[5] for r in rows if r[0] == "SyncVectorEnv"}
    sync_sampled = {(r[2], r[3]): r[6] for r in rows if r[0] == "SyncVectorEnv"}
    print(
        "(vector rows without final reward: median single-step rate of env.step, and with the random sampler's "
        "time added; with QED: whole-run rate of env.step; single env: sampling included, as in the single part)"
    )
    print(
        f"{'env':15s} {'B':>5s} {'final reward':>12s} {'info_smiles':>11s} {'workers':>7s} {'steps/s':>9s} "
        f"{'vs Sync B=256':>14s} {'with sampler':>13s} {'vs Sync':>8s}"
    )
    for name, B, reward_name, smiles, workers, rate, sampled in rows:
        ratio = rate / sync_rate[(reward_name, smiles)]
        extra = f" {sampled:13.0f} {sampled / sync_sampled[(reward_name, smiles)]:7.1f}x" if sampled else ""
        print(f"{name:15s} {B:5d} {reward_name:>12s} {smiles:>11s} {workers:7d} {rate:9.0f} {ratio:13.1f}x{extra}")
    for smiles, target in (("none", 30), ("end", 12)):
        native = next(r for r in rows if r[0] == "native batched" and r[1] == 256 and r[2] == "none" and r[3] == smiles)
        ratio = native[5] / sync_rate[("none", smiles)]
        print(
            f"target native >= {target}x SyncVectorEnv at B=256 without final reward, info_smiles={smiles!r}: "
            f"{ratio:.1f}x ({'met' if ratio >= target else 'NOT met'}; {native[6] / sync_sampled[('none', smiles)]:.1f}x "
            "with the random sampler's time in both)"
        )

    # the QED bound: steps per episode / (QED+SA time per finished molecule), times the workers
    probe = run_single(MolEditEnv(reward=[], info_smiles="end"), molecule_steps, seed)
    qed_time, sa_time = rdkit_time_per_molecule(probe["finals"])
    steps_per_episode = molecule_steps / probe["episodes"]
    for workers in (0, 1, 2):
        bound = max(workers, 1) * steps_per_episode / (qed_time + sa_time)
        got = next(r[5] for r in rows if r[0] == "native batched" and r[1] == 256 and r[2] == "qed" and r[4] == workers)
        print(
            f"QED bound for n_workers={workers} ({max(workers, 1)} process(es) scoring): {bound:.0f} steps/s ({steps_per_episode:.1f} steps per episode, "
            f"QED+SA {1e3 * (qed_time + sa_time):.2f} ms); native B=256 {got:.0f} = {bound / got:.2f}x below it "
            f"(target within 1.5x: {'met' if bound / got <= 1.5 else 'NOT met'})"
        )

    native = MolEditVectorEnv(MolEditEnv, num_envs=256, info_smiles="end")
    native.reset(seed=0)
    print(
        f"memory per molecule state: native batched {native.state_bytes() / 256:.0f} bytes "
        f"(graph, counters and its {native.layout.size}-entry action mask); "
        f"single env object {bytes_per_molecule_single():.0f} bytes (tracemalloc)"
    )


# Startup ----------------------------------------------------------------------------------------
_STARTUP = """
import time
t0 = time.perf_counter()
import gymnasium as gym
import molgym
t1 = time.perf_counter()
env = gym.make("MolEdit-v0")
env.reset(seed=0)
t2 = time.perf_counter()
env.step(env.unwrapped.decode_action(int(env.unwrapped.action_masks().argmax())))
t3 = time.perf_counter()
envs = gym.make_vec("MolEdit-v0", num_envs=256)
envs.reset(seed=0)
envs.step(envs.action_masks().argmax(axis=1))
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def startup_part() -> None:
    """Import, make + reset and first step in fresh processes: empty kernel cache, then warm; then
    the native vector env's make + reset + first step in the same process (the same kernels)."""
    import subprocess
    import sys
    import tempfile

    print("== startup: fresh processes (seconds)")
    print(
        f"{'kernel cache':28s} {'import molgym':>13s} {'make + reset':>13s} {'first step':>11s} {'then vector B=256':>18s}"
    )
    with tempfile.TemporaryDirectory() as cache:
        for label in ("empty (a fresh install)", "warm (every later process)", "warm (again)"):
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            out = subprocess.run([sys.executable, "-c", _STARTUP], env=env, capture_output=True, text=True, check=True)
            imp, make, step, vector = map(float, out.stdout.split())
            print(f"{label:28s} {imp:13.2f} {make:13.2f} {step:11.3f} {vector:18.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["startup", "single", "vector", "all"], default="all")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sa_score(Chem.MolFromSmiles("CCO"))  # load the SA model outside the timings
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if args.part in ("startup", "all"):
        startup_part()
    if args.part in ("single", "all"):
        single_part(args.steps, args.seed, args.repeats)
    if args.part in ("vector", "all"):
        vector_part(args.steps, args.seed)


if __name__ == "__main__":
    main()
