"""GCPN on the paper's tasks under a fixed oracle budget, beside the paper's figures.

Run: ``python scripts/bench_gcpn.py [--budget 10000] [--seeds 3 | --seed S ...] [--tasks qed,plogp,logp_target,mw_target,constrained]
[--constrained-molecules 800] [--constrained-budget N] [--thresholds 0.0,0.2,0.4,0.6] [--device cpu] [--out runs/bench_gcpn]
[--config KEY=VALUE ...] [--report]``, or
``python scripts/bench_gcpn.py --throughput [--updates 5] [--num-envs 32] [--device cpu] [--config ...]`` for PPO's
speed alone: env steps per second and where the time goes (policy acting, env, learning).

Each finished run is written to ``--out``/``results.json`` at once, with its oracle log beside it
(``<task>_seed_<seed>.csv``), and a repeated command skips the runs already there (same settings;
``--tasks``, ``--seeds`` and ``--seed`` may differ, and two commands may share an ``--out``), so an interrupted
benchmark keeps what it did (``--report`` trains nothing: it reports the runs there). A run cut short
(Ctrl-C, a crash, a machine restart) goes on from its last checkpoint when the same command is run
again: every 10 updates it is written to ``--out``/``unfinished/<run>/`` (removed once the run is in
``results.json``), and the resumed run equals an uninterrupted one, update for update. The end writes
``results.md`` (the table below, with the command), ``curves.png`` (top-10 against oracle calls) and
``top.png`` (the best molecules, with SA and atoms).

Every run starts from the shipped checkpoint (``agents/gcpn/checkpoints``) and trains with PPO
until ``--budget`` oracle calls (one call = one new unique molecule scored) are spent. Printed per
task: our figure, the paper's (You et al., NeurIPS 2018, tables 1-3), oracle calls, wall time,
device, and PPO throughput (env steps per second, policy and scoring included).

* qed, plogp: the three best molecules the oracle scored. For plogp also the variant optimised
  (the normalised one of GCPN/JT-VAE), the unnormalised value (logP - SA - ring penalty) and the
  SA of those molecules: long carbon chains game this score.
* logp_target, mw_target: after training, ``--propose`` molecules are sampled; success is the
  share inside the target range, diversity the mean pairwise Tanimoto distance of the successes.
* constrained: for each similarity threshold and seed one agent trains on the start molecules
  under ``--constrained-budget`` calls; then ``--rollouts`` episodes start from each molecule. A
  molecule succeeds when some result keeps the similarity; its improvement is the best
  unnormalised penalized-logP gain among those. Evaluation molecules are scored outside the
  budget and counted separately. The same evaluation is repeated with the policy as it was at
  the end of its best 10 updates by training reward (``best_policy``), since the policy may
  degrade late in training.

``--config`` passes GCPN settings to every run (``molgym train``'s ``--config``); they are part of
the settings that ``--out`` must match. Runs made before 2026-11-23, when GCPN's default was 4 PPO
epochs per update (2 since), are repeated and added to with ``--config epochs=4``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from tqdm.auto import tqdm

from molgym.agent import check_settings, parse_settings
from molgym.compare import machine
from molgym.data.datasets import MOSES_PATH
from molgym.metrics import diversity
from molgym.rewards import Context, PenalizedLogP
from molgym.rewards.properties import sa_score, tanimoto
from molgym.tasks import make_task
from molgym.training import BestPolicy, latest_checkpoint, load_checkpoint, run_training
from molgym_agents.gcpn.agent import GCPNAgent

PAPER = {
    "qed": "top-3 0.948 0.947 0.946",
    "plogp": "top-3 7.98 7.85 7.80",
    "logp_target": "success 85.5%, diversity 0.392",
    "mw_target": "success 74.1%, diversity 0.920",
    "constrained": {0.0: "4.20, 100%", 0.2: "4.12, 100%", 0.4: "2.49, 100%", 0.6: "0.79, 100%"},
}
CONSTRAINED_FILE = MOSES_PATH.parent / "zinc_low_plogp_800.txt"
CHECKPOINT_EVERY = 10  # updates between a run's checkpoints


def throughput(args) -> None:
    """PPO updates of the GCPN agent on QED (default settings, or ``--config``'s): env steps/s and
    the time per phase."""
    task = make_task("qed")
    oracle = task.oracle(10**9)
    agent = GCPNAgent(task, seed=0, device=args.device, **{"num_envs": args.num_envs, **args.config})
    agent.update(oracle)  # warm-up: builds the env, fills caches
    seconds: dict[str, float] = {}
    steps, began = agent.steps, time.perf_counter()
    for _ in tqdm(range(args.updates), desc="PPO updates", unit="update", leave=False):
        for key, value in agent.update(oracle).items():
            if key.startswith("seconds_"):
                seconds[key[8:]] = seconds.get(key[8:], 0.0) + value
    elapsed = time.perf_counter() - began
    steps = agent.steps - steps
    print(
        f"GCPN PPO on qed: {steps} env steps in {elapsed:.1f} s = {steps / elapsed:.0f} env steps/s "
        f"({agent.config['num_envs']} molecules x {agent.ppo_config.num_steps} steps per update, {args.updates} updates, "
        f"device {args.device}, torch threads {torch.get_num_threads()}"
        f"{''.join(f', {k}={v}' for k, v in args.config.items())})"
    )
    for phase, value in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {phase:7s} {value:7.2f} s  {value / elapsed:6.1%}")
    print(f"  other   {elapsed - sum(seconds.values()):7.2f} s")
    print(
        "  (act: the policy choosing actions; env: the batched env's steps, oracle scoring included; "
        "learn: PPO's minibatch passes)"
    )


def train(task, seed: int, budget: int, device: str, position: str, config: dict, checkpoint: Path):
    """One GCPN run from the shipped checkpoint (``config``: the agent's settings), checkpointed in
    the directory ``checkpoint`` every ``CHECKPOINT_EVERY`` updates (:func:`molgym.training.run_training`)
    and resumed from there when it holds a checkpoint: a killed run goes on from its last checkpoint
    as if never stopped. (agent, oracle, training seconds, env steps per second, its :class:`BestPolicy`)."""
    bar = tqdm(total=budget, desc=position, unit="call", leave=False)
    top = [float("-inf")]

    def progress(_, smiles, score):
        top[0] = max(top[0], score)
        bar.update(1)
        bar.set_postfix(best=f"{top[0]:.3f}", refresh=False)

    oracle = task.oracle(budget, on_call=progress)
    best = BestPolicy()
    if latest_checkpoint(checkpoint) is not None:
        agent, oracle_state, loop = load_checkpoint(checkpoint, GCPNAgent, task, device=device, extra=best)
        oracle.load_state_dict(oracle_state)
        top[0] = max((score for _, _, score in oracle.log), default=top[0])
        bar.update(oracle.calls)
        print(f"  {position}: resumed from {checkpoint} at update {agent.updates}, {oracle.calls} oracle calls")
    else:
        agent, loop = GCPNAgent(task, seed=seed, device=device, **config), None
    if loop is None or loop["stopped"] is None:  # else it ended before, and only its evaluation is left
        loop = run_training(
            agent,
            oracle,
            checkpoint,
            checkpoint_every=CHECKPOINT_EVERY,
            loop=loop,
            progress=False,
            callbacks=[best],
            extra=best,
        )
    bar.close()
    if loop["interrupted"]:
        print(
            f"interrupted: {position} checkpointed at update {agent.updates} ({oracle.calls} oracle calls); the "
            "same command goes on from there",
            file=sys.stderr,
        )
        raise SystemExit(130)  # as molgym train after Ctrl-C
    agent.stop_reason = loop["stopped"]
    return agent, oracle, loop["wall_time"], agent.steps / loop["wall_time"], best


def top3(oracle) -> list[tuple[str, float]]:
    return [(s, v) for _, s, v in sorted(oracle.log, key=lambda row: row[2], reverse=True)[:3]]


class Store:
    """``results.json`` of a benchmark, rewritten after every finished run, with each run's oracle log
    beside it (``<run>.csv``: call, SMILES, score). A later command with the same settings reuses the
    runs already there, whatever its ``--tasks`` and ``--seeds`` (runs are named by task and seed), and
    two commands may share an ``--out``: each write keeps the other's finished runs. Each run records
    the command that made it (``made_by``: run -> command) and the machine it ran on (``machines``:
    run -> CPU and instruction set, see :func:`molgym.compare.machine`), and ``command`` is the one
    that wrote the file last."""

    SHARED = ("tasks", "seeds", "seed", "thresholds", "report")  # settings that choose runs rather than change them

    def __init__(self, out: Path, device: str, args: dict, command: str, train: bool = True):
        self.out = out
        self.file = out / "results.json"
        self.args = {k: v for k, v in args.items() if k not in self.SHARED}
        self.command, self.train = command, train
        self.state = {
            "device": device,
            "command": command,
            "args": self.args,
            "made_by": {},
            "machines": {},
            "runs": {},
            "results": [],
        }
        if self.file.is_file():
            saved = json.loads(self.file.read_text())
            if saved["args"] != self.args:
                raise SystemExit(
                    f"{self.file} holds runs made with other settings ({saved['args']}); use another --out or delete it"
                )
            for part in ("runs", "made_by", "machines"):
                self.state[part] = saved.get(part, {})
        out.mkdir(parents=True, exist_ok=True)

    def run(self, key: str, make) -> dict | None:
        """The finished run ``key``: from the file, or made now by ``make()`` and written at once
        (``None`` when it is not in the file and ``self.train`` is off: ``--report``)."""
        if key in self.state["runs"]:
            print(f"  {key}: done before, read from {self.file}")
            return self.state["runs"][key]
        if not self.train:
            print(f"  {key}: not in {self.file}, left out (--report trains nothing)")
            return None
        self.state["runs"][key] = make()
        self.state["made_by"][key] = self.command
        self.state["machines"][key] = machine()
        self.save()
        shutil.rmtree(self.checkpoint_path(key), ignore_errors=True)
        with contextlib.suppress(OSError):  # the last unfinished run gone: its folder too
            self.checkpoint_path(key).parent.rmdir()
        return self.state["runs"][key]

    def runs(self, made: list) -> list[dict]:
        """The finished runs of ``(key, make)`` pairs, in order (made where needed, see :meth:`run`)."""
        return [run for run in (self.run(key, make) for key, make in made) if run is not None]

    def log_path(self, key: str) -> Path:
        return self.out / f"{key.replace(' ', '_')}.csv"

    def checkpoint_path(self, key: str) -> Path:
        """Where the unfinished run ``key`` keeps its checkpoint (removed once the run is written)."""
        return self.out / "unfinished" / key.replace(" ", "_")

    def save(self) -> None:
        if self.file.is_file():  # another command on the same --out may have finished runs since
            saved = json.loads(self.file.read_text())
            for part in ("runs", "made_by", "machines"):
                for key, value in saved.get(part, {}).items():
                    self.state[part].setdefault(key, value)
        temporary = self.file.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.state, indent=2))
        temporary.replace(self.file)


def bench_top(name: str, args, store: Store) -> dict | None:
    def one(seed: int) -> dict:
        agent, oracle, seconds, throughput, _ = train(
            make_task(name),
            seed,
            args.budget,
            args.device,
            f"{name} seed {seed}",
            args.config,
            store.checkpoint_path(f"{name} seed {seed}"),
        )
        oracle.write_log(store.log_path(f"{name} seed {seed}"))
        best = top3(oracle)
        run = {
            "seed": seed,
            "top3": best,
            "calls": oracle.calls,
            "stop_reason": agent.stop_reason,
            "seconds": seconds,
            "steps_per_s": throughput,
        }
        if name == "plogp":
            unnormalized = PenalizedLogP("unnormalized")
            run["detail"] = [
                {
                    "smiles": s,
                    "plogp": v,
                    "unnormalized": unnormalized.of(Chem.MolFromSmiles(s)),
                    "sa": sa_score(Chem.MolFromSmiles(s)),
                    "atoms": Chem.MolFromSmiles(s).GetNumAtoms(),
                }
                for s, v in best
            ]
        print(
            f"  {name} seed {seed}: top-3 {' '.join(f'{v:.3f}' for _, v in best)}; {oracle.calls} calls, "
            f"{seconds:.0f} s, {throughput:.0f} env steps/s"
        )
        return run

    runs = store.runs([(f"{name} seed {seed}", lambda seed=seed: one(seed)) for seed in args.seeds])
    if not runs:
        return None
    top1 = [r["top3"][0][1] for r in runs]
    if name == "plogp":  # the paper's table is in unnormalised units
        top3 = [" ".join(f"{d['unnormalized']:.2f}" for d in r["detail"]) for r in runs]
        ours = "; ".join(f"{values} (seed {r['seed']})" for values, r in zip(top3, runs))
        ours = (
            f"unnormalised, top-3 of each run: {ours} (normalised top-1, the score optimised: "
            f"{' / '.join(f'{v:.2f}' for v in top1)})"
        )
    else:
        seeds = f"seed{'s' * (len(runs) > 1)} {', '.join(str(r['seed']) for r in runs)}"
        ours = f"top-3 {' '.join(f'{v:.3f}' for _, v in runs[0]['top3'])} (seed {runs[0]['seed']}); top-1 {' / '.join(f'{v:.3f}' for v in top1)} ({seeds})"
    return {"task": name, "runs": runs, "ours": ours}


def bench_target(name: str, args, store: Store) -> dict | None:
    def one(seed: int) -> dict:
        task = make_task(name)
        agent, oracle, seconds, throughput, _ = train(
            task,
            seed,
            args.budget,
            args.device,
            f"{name} seed {seed}",
            args.config,
            store.checkpoint_path(f"{name} seed {seed}"),
        )
        oracle.write_log(store.log_path(f"{name} seed {seed}"))
        proposed = agent.propose(args.propose)
        target = task.objective
        values = np.array([target.prop(Context.of_mol(Chem.MolFromSmiles(s))) for s in proposed])
        hits = [s for s, v in zip(proposed, values) if target.low <= v <= target.high]
        # where the misses lie: the proposals' property against the window, to say why success is what it is
        spread = {
            "quartiles": np.percentile(values, [10, 25, 50, 75, 90]).tolist(),
            "below": float(np.mean(values < target.low)),
            "above": float(np.mean(values > target.high)),
            "unique": len(set(proposed)) / len(proposed),
        }
        run = {
            "seed": seed,
            "success": len(hits) / len(proposed),
            "diversity": diversity(hits),
            "unique_hits": len(set(hits)),
            "proposals": spread,
            "calls": oracle.calls,
            "stop_reason": agent.stop_reason,
            "seconds": seconds,
            "steps_per_s": throughput,
        }
        print(
            f"  {name} seed {seed}: success {run['success']:.1%} ({run['unique_hits']} unique), diversity "
            f"{run['diversity']:.3f}; {oracle.calls} calls, {seconds:.0f} s, {throughput:.0f} env steps/s"
        )
        print(
            f"    proposals: {target.prop.name} 10/25/50/75/90th percentiles "
            f"{' / '.join(f'{q:.2f}' for q in spread['quartiles'])}; {spread['below']:.1%} below the window, "
            f"{spread['above']:.1%} above; {spread['unique']:.1%} unique"
        )
        return run

    runs = store.runs([(f"{name} seed {seed}", lambda seed=seed: one(seed)) for seed in args.seeds])
    if not runs:
        return None
    success = statistics.mean(r["success"] for r in runs)
    div = statistics.mean(r["diversity"] for r in runs)
    each = "; ".join(f"{r['success']:.1%}, {r['diversity']:.3f} (seed {r['seed']})" for r in runs)
    mean = f"; mean {success:.1%}, {div:.3f}" if len(runs) > 1 else ""
    return {"task": name, "runs": runs, "ours": f"success, diversity: {each}{mean} ({args.propose} samples a run)"}


def constrained_run(threshold: float, seed: int) -> str:
    """A constrained run's name (seed 0 unnamed, as before constrained runs had seeds)."""
    return f"constrained {threshold}" + (f" seed {seed}" if seed else "")


def bench_constrained(args, store: Store) -> dict | None:
    starts = [line.split()[0] for line in CONSTRAINED_FILE.read_text().splitlines() if line.strip()]
    starts = starts[: args.constrained_molecules]
    plogp = PenalizedLogP("unnormalized")

    def evaluate(agent: GCPNAgent, threshold: float) -> dict:
        """``--rollouts`` episodes of the agent's policy from each start molecule: the mean best
        gain among the results that keep the similarity, its spread, their similarity, the share
        of molecules with such a result, and the molecules scored."""
        gains, sims, scored = [], [], 0
        proposed = []
        for first in tqdm(range(0, len(starts), 32), desc=f"optimise at {threshold}", unit="32 mol", leave=False):
            proposed += agent.propose_from_each(starts[first : first + 32], args.rollouts)
        for smiles, results in zip(starts, proposed):
            start = Chem.MolFromSmiles(smiles)
            base = plogp.of(start)
            results = set(results)
            scored += len(results)
            kept = [(plogp.of(m) - base, tanimoto(m, start)) for m in map(Chem.MolFromSmiles, results)]
            kept = [(g, s) for g, s in kept if s >= threshold]
            if kept:
                gain, sim = max(kept)
                gains.append(gain)
                sims.append(sim)
        return {
            "improvement": statistics.mean(gains) if gains else float("nan"),
            "improvement_std": statistics.pstdev(gains) if gains else float("nan"),
            "similarity": statistics.mean(sims) if sims else float("nan"),
            "success": len(gains) / len(starts),
            "eval_scored": scored,
        }

    def one(threshold: float, seed: int) -> dict:
        task = make_task("constrained", start_smiles=starts, threshold=threshold)
        agent, oracle, seconds, throughput, best = train(
            task,
            seed,
            args.constrained_budget,
            args.device,
            constrained_run(threshold, seed),
            args.config,
            store.checkpoint_path(constrained_run(threshold, seed)),
        )
        oracle.write_log(store.log_path(constrained_run(threshold, seed)))
        row = {
            "threshold": threshold,
            "seed": seed,
            **evaluate(agent, threshold),
            "molecules": len(starts),
            "calls": oracle.calls,
            "stop_reason": agent.stop_reason,
            "seconds": seconds,
            "steps_per_s": throughput,
        }
        print(
            f"  {constrained_run(threshold, seed)}: improvement {row['improvement']:.2f} +- {row['improvement_std']:.2f}, "
            f"success {row['success']:.0%} of {len(starts)}, similarity {row['similarity']:.2f}; "
            f"{oracle.calls} calls + {row['eval_scored']} evaluation molecules, {seconds:.0f} s"
        )
        if best.state is not None:  # the same evaluation of the policy at its best window of training
            agent.policy.load_state_dict(best.state)
            row["best_policy"] = {
                **evaluate(agent, threshold),
                "update": best.update,
                "updates": agent.updates,
                "training_reward": best.reward,
            }
            b = row["best_policy"]
            print(
                f"    its best policy (updates {best.update - best.window + 1}-{best.update} of {agent.updates}, "
                f"training reward {best.reward:.2f}): improvement {b['improvement']:.2f} +- {b['improvement_std']:.2f}, "
                f"success {b['success']:.0%}, similarity {b['similarity']:.2f}, {b['eval_scored']} evaluation molecules"
            )
        return row

    rows = store.runs(
        [
            (constrained_run(t, seed), lambda t=t, seed=seed: one(t, seed))
            for t in args.thresholds
            for seed in args.seeds
        ]
    )
    if not rows:
        return None
    return {"task": "constrained", "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="qed,plogp,logp_target,mw_target,constrained")
    parser.add_argument("--budget", type=int, default=10000, help="oracle calls per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 to N - 1 of each task")
    parser.add_argument(
        "--seed",
        type=int,
        action="append",
        help="only this seed (repeatable), in place of --seeds: e.g. one seed of several on another machine",
    )
    parser.add_argument("--propose", type=int, default=1000, help="samples for property targeting")
    parser.add_argument("--constrained-molecules", type=int, default=800)
    parser.add_argument(
        "--constrained-budget", type=int, default=None, help="oracle calls per threshold (default --budget)"
    )
    parser.add_argument("--rollouts", type=int, default=8, help="episodes from each start molecule")
    parser.add_argument("--thresholds", default="0.0,0.2,0.4,0.6", help="constrained: the similarity thresholds")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="runs/bench_gcpn")
    parser.add_argument(
        "--report",
        action="store_true",
        help="train nothing: report the runs already in --out (each task's seeds there, up to --seeds)",
    )
    parser.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="GCPN settings for every run (as molgym train's --config), e.g. normalize_returns=true",
    )
    parser.add_argument("--throughput", action="store_true", help="measure PPO's speed only")
    parser.add_argument("--updates", type=int, default=5, help="--throughput: PPO updates timed")
    parser.add_argument("--num-envs", type=int, default=32, help="--throughput: molecules per batch")
    args = parser.parse_args()
    try:
        args.config = parse_settings(args.config)
        check_settings(GCPNAgent, args.config)
    except ValueError as err:
        raise SystemExit(f"--config: {err}") from None
    if args.throughput:
        return throughput(args)
    args.constrained_budget = args.constrained_budget or args.budget
    args.seeds = sorted(set(args.seed)) if args.seed else list(range(args.seeds))
    args.thresholds = [float(t) for t in args.thresholds.split(",")]
    unknown = set(args.thresholds) - set(PAPER["constrained"])
    if unknown:
        raise SystemExit(
            f"the paper has no threshold {', '.join(map(str, sorted(unknown)))}; it has 0.0, 0.2, 0.4, 0.6"
        )
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)"
    print(
        f"GCPN benchmark: budget {args.budget} oracle calls, seeds {', '.join(map(str, args.seeds))}, device {device}, "
        f"torch threads {torch.get_num_threads()}"
    )
    unknown = set(args.tasks.split(",")) - {"qed", "plogp", "logp_target", "mw_target", "constrained"}
    if unknown:
        raise SystemExit(f"unknown task(s) {', '.join(sorted(unknown))}")
    out = Path(args.out)
    settings = {k: v for k, v in vars(args).items() if k not in ("throughput", "updates", "num_envs", "config")}
    # the settings the runs are made with, so that a store never mixes runs of two defaults: runs made
    # before --config existed recorded none, and runs made before 2 epochs became the default (4 until
    # 2026-11-23) recorded no epochs
    config = {"epochs": GCPNAgent.PPO_DEFAULTS["epochs"], **args.config}
    if config["epochs"] == 4:
        del config["epochs"]
    if config:
        settings["config"] = config
    command = "python scripts/bench_gcpn.py " + " ".join(sys.argv[1:])
    store = Store(out, device, settings, command, train=not args.report)
    results = []
    for name in args.tasks.split(","):
        print(f"{name}:")
        if name in ("qed", "plogp"):
            result = bench_top(name, args, store)
        elif name in ("logp_target", "mw_target"):
            result = bench_target(name, args, store)
        else:
            result = bench_constrained(args, store)
        results += [result] if result else []  # (None: --report found no run of the task)
        store.state["results"] = results
        store.save()

    budgets = [f"{args.budget} oracle calls a run"] if set(args.tasks.split(",")) - {"constrained"} else []
    if "constrained" in args.tasks.split(","):
        budgets.append(
            f"{args.constrained_budget} per constrained-optimisation threshold on {args.constrained_molecules} "
            f"molecules ({args.rollouts} episodes from each afterwards, scored outside the budget)"
        )
    lines = [
        f"GCPN benchmark, {'; '.join(budgets)}; device {device}; wall time: training. Made by:",
        "",
        "    " + command,
        "",
        "| task | ours | paper | oracle calls | wall time | env steps/s | ended |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["task"] == "constrained":
            for row in r["rows"]:
                lines.append(
                    f"| constrained, threshold {row['threshold']}, seed {row.get('seed', 0)} | {row['improvement']:.2f} +- "
                    f"{row['improvement_std']:.2f}, {row['success']:.0%} of {row['molecules']} | "
                    f"{PAPER['constrained'][row['threshold']]} | {row['calls']} (+{row['eval_scored']} eval) | "
                    f"{row['seconds']:.0f} s | {row['steps_per_s']:.0f} | {row['stop_reason'] or 'budget'} |"
                )
                if "best_policy" in row:
                    b = row["best_policy"]
                    lines.append(
                        f"| the same run's best policy (updates {b['update'] - BestPolicy.WINDOW + 1}-{b['update']} of {b['updates']}) | "
                        f"{b['improvement']:.2f} +- {b['improvement_std']:.2f}, {b['success']:.0%} | "
                        f"{PAPER['constrained'][row['threshold']]} | (+{b['eval_scored']} eval) | | | |"
                    )
            continue
        calls = ", ".join(str(run["calls"]) for run in r["runs"])
        seconds = ", ".join(f"{run['seconds']:.0f}" for run in r["runs"])
        speed = statistics.mean(run["steps_per_s"] for run in r["runs"])
        reasons = [run["stop_reason"] or "budget" for run in r["runs"]]
        ended = "; ".join(
            f"{reason}{f' ({reasons.count(reason)} runs)' * (reasons.count(reason) > 1)}"
            for reason in dict.fromkeys(reasons)
        )
        lines.append(
            f"| {r['task']} | {r['ours']} | {PAPER[r['task']]} | {calls} | {seconds} s | {speed:.0f} | {ended} |"
        )
    for r in results:
        if r["task"] == "plogp":
            lines += [
                "",
                "plogp: the task optimises the normalised variant (GCPN/JT-VAE); the paper's table is in "
                "unnormalised units (logP - SA - ring penalty). Best molecules of seed 0:",
                "",
            ]
            lines += [
                f"- normalised {d['plogp']:.2f}, unnormalised {d['unnormalized']:.2f}, SA {d['sa']:.2f}, "
                f"{d['atoms']} atoms: `{d['smiles']}`"
                for d in r["runs"][0]["detail"]
            ]
        if r["task"] in ("logp_target", "mw_target"):
            spreads = [
                (run["seed"], run["proposals"]) for run in r["runs"] if "proposals" in run
            ]  # (older runs lack it)
            if spreads:
                lines += [
                    "",
                    f"{r['task']}: the property of the {args.propose} proposals after training "
                    "(10th / 25th / 50th / 75th / 90th percentiles; shares outside the window):",
                    "",
                ]
            lines += [
                f"- seed {seed}: {' / '.join(f'{q:.2f}' for q in spread['quartiles'])}; {spread['below']:.1%} "
                f"below, {spread['above']:.1%} above; {spread['unique']:.1%} of the proposals unique"
                for seed, spread in spreads
            ]
    print("\n" + "\n".join(lines))
    (out / "results.md").write_text("\n".join(lines) + "\n")
    drawn = pictures(results, out, store)
    print(f"\nwrote {', '.join(str(out / name) for name in ['results.json', 'results.md', *drawn])}")


def pictures(results: list[dict], out: Path, store: Store) -> list[str]:
    """``curves.png``: the top-10 mean against oracle calls (for the target tasks: the share of each
    stretch of calls inside the target range), a panel per task and a line per run;
    ``top.png``: the three best molecules of each qed and plogp run (score, SA, atoms). A run whose
    oracle log is not in ``out`` is left out of the curves. Returns the names of the files drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from molgym.metrics import top_k_curve
    from molgym.pictures import molecule_grid

    drawn = []
    tasks = [r for r in results if r["task"] != "constrained"]
    if tasks:
        fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.5), squeeze=False)
        for ax, r in zip(axes[0], tasks):
            for run in r["runs"]:
                log = store.log_path(f"{r['task']} seed {run['seed']}")
                if not log.is_file():  # a run copied from another --out without its log
                    print(f"  {log} missing: {r['task']} seed {run['seed']} left out of curves.png")
                    continue
                with open(log) as f:
                    scores = [float(row["score"]) for row in csv.DictReader(f)]
                if r["task"] in ("logp_target", "mw_target"):  # the top-10 is 1.0 at once: the share in range says more
                    window = max(1, len(scores) // 50)
                    inside = np.array(scores) >= 1.0
                    shares = [inside[i : i + window].mean() for i in range(0, len(scores), window)]
                    ax.plot(np.arange(len(shares)) * window + window, shares, label=f"seed {run['seed']}")
                else:
                    ax.plot(*top_k_curve(scores, 10, max(1, len(scores) // 200)), label=f"seed {run['seed']}")
            ax.set_title(r["task"] if r["task"] not in ("logp_target", "mw_target") else f"{r['task']}: share in range")
            ax.set_xlabel("oracle calls")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("mean of the top-10 scores so far")
        axes[0][0].legend()
        fig.tight_layout()
        fig.savefig(out / "curves.png", dpi=100)
        plt.close(fig)
        drawn.append("curves.png")
    best = [(r["task"], run) for r in tasks if r["task"] in ("qed", "plogp") for run in r["runs"]]
    if best:
        smiles, legends = [], []
        for task, run in best:
            for s, v in run["top3"]:
                molecule = Chem.MolFromSmiles(s)
                smiles.append(s)
                legends.append(f"{task} {v:.3f}, SA {sa_score(molecule):.2f}, {molecule.GetNumAtoms()} atoms")
        molecule_grid(smiles, legends, "GCPN: the three best molecules of each run", out / "top.png", per_row=3)
        drawn.append("top.png")
    return drawn


if __name__ == "__main__":
    main()
