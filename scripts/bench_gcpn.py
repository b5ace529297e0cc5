"""GCPN (or another agent) on GCPN's paper's tasks under a fixed oracle budget, beside the paper's figures.

Run: ``python scripts/bench_gcpn.py [--agent gcpn] [--budget 10000] [--seeds 3 | --seed S ...]
[--tasks qed,plogp,logp_target,mw_target,constrained] [--constrained-molecules 800] [--constrained-budget N]
[--thresholds 0.0,0.2,0.4,0.6] [--device cpu] [--workers N] [--out runs/bench_gcpn] [--config KEY=VALUE ...]
[--report]``, or ``python scripts/bench_gcpn.py --throughput [--updates 5] [--num-envs 32] [--device cpu]
[--config ...]`` for PPO's speed alone: env steps per second and where the time goes.

Every run is a run of ``molgym compare`` (:mod:`molgym.compare`): the gcpn agent from its shipped
checkpoint, trained with PPO until ``--budget`` oracle calls (one call = one new unique molecule
scored) are spent (``--agent NAME``: another registered agent, e.g. ``genetic_gcpn``, on every task
but constrained optimisation, whose evaluation runs GCPN's policy), one comparison per task in ``OUT/<task>/`` (per similarity threshold for
constrained optimisation: ``OUT/constrained_<threshold>/``), with compare's run directories, report,
curves and molecule pictures. A repeated command resumes: finished runs are read back, unfinished
ones redone, and a folder holding runs of other settings is refused. ``--report`` trains nothing.

This script adds only what is the paper's (You et al., NeurIPS 2018, tables 1-3): the evaluators of
its tasks, read from the run directories, and the table beside the paper's figures
(``OUT/results.md``, ``OUT/results.json``).

* qed, plogp: the three best molecules the oracle scored. For plogp also the unnormalised value
  (logP - SA - ring penalty, the paper's units) and the SA of those molecules: long carbon chains
  game this score.
* logp_target, mw_target: the ``--propose`` molecules each trained agent proposed (``proposed.csv``);
  success is the share inside the target range, diversity the mean pairwise Tanimoto distance of
  the successes.
* constrained: the trained agent (kept in its run directory) runs ``--rollouts`` episodes from each
  start molecule. A molecule succeeds when some result keeps the similarity; its improvement is the
  best unnormalised penalized-logP gain among those. Evaluation molecules are scored outside the
  budget and counted separately. The same evaluation is repeated with the policy at the end of its
  best 10 updates by training reward (:class:`molgym.loop.BestPolicy`), since the policy may degrade
  late in training. Each run's evaluation is written to its directory (``evaluation.json``) once.

``--config`` passes the agent's settings to every run (``molgym train``'s ``--config``); they are part of
the settings that ``--out`` must match.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from tqdm.auto import tqdm

from molgym.agent import agent_class, check_settings, parse_settings
from molgym.compare import Comparison, SettingsMismatch, check_runs, read_result, run_all, write_report
from molgym.data.datasets import MOSES_PATH
from molgym.metrics import diversity
from molgym.rewards import Context, PenalizedLogP
from molgym.rewards.properties import sa_score, tanimoto
from molgym.storage import read_json, write_atomic, write_json
from molgym.tasks import make_task
from molgym_agents.gcpn.agent import GCPNAgent

PAPER = {
    "qed": "top-3 0.948 0.947 0.946",
    "plogp": "top-3 7.98 7.85 7.80",
    "logp_target": "success 85.5%, diversity 0.392",
    "mw_target": "success 74.1%, diversity 0.920",
    "constrained": {0.0: "4.20, 100%", 0.2: "4.12, 100%", 0.4: "2.49, 100%", 0.6: "0.79, 100%"},
}
TASKS = ("qed", "plogp", "logp_target", "mw_target", "constrained")
CONSTRAINED_FILE = MOSES_PATH.parent / "zinc_low_plogp_800.txt"
BEST_WINDOW = 10  # updates in the window of the best policy (constrained optimisation)


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
        f"({agent.config['num_envs']} molecules x {agent.ppo_config.num_steps} steps per update, "
        f"{args.updates} updates, device {args.device}, torch threads {torch.get_num_threads()}"
        f"{''.join(f', {k}={v}' for k, v in args.config.items())})"
    )
    for phase, value in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {phase:7s} {value:7.2f} s  {value / elapsed:6.1%}")
    print(f"  other   {elapsed - sum(seconds.values()):7.2f} s")
    print(
        "  (act: the policy choosing actions; env: the batched env's steps, oracle scoring included; "
        "learn: PPO's minibatch passes)"
    )


def agent_runs(args, task: str, out: Path, config: dict | None = None, **settings) -> list[tuple[Path, dict]]:
    """The ``--agent`` runs of ``task`` with ``args.seeds`` in ``out`` through :mod:`molgym.compare` (made now
    unless ``--report``, or read back), and the task's compare report; (run directory, result) of
    each finished run. ``config``: the agent's settings (default ``--config``'s); ``settings``: the
    :class:`Comparison`'s other fields."""
    comparison = Comparison(
        task,
        (args.agent,),
        settings.pop("budget", args.budget),
        max(args.seeds) + 1,
        device=args.device,
        training_set=None,
        configs={args.agent: args.config if config is None else config},
        **{"propose": 0, **settings},
    )
    specs = [spec for spec in comparison.runs(out) if spec.seed in args.seeds]
    try:
        check_runs(specs)
    except SettingsMismatch as err:
        raise SystemExit(str(err)) from None
    if args.report:
        found = [(spec, read_result(spec.directory / "result.json")) for spec in specs]
        for spec, result in found:
            if result is None:
                print(f"  {task} seed {spec.seed}: not in {out}, left out (--report trains nothing)")
        pairs = [(spec, result) for spec, result in found if result is not None]
    else:
        pairs = list(zip(specs, run_all(specs, args.workers)))
    pairs = [(spec, result) for spec, result in pairs if result["status"] == "ok"]
    if pairs:
        results = [result for _, result in pairs]
        write_report(
            results,
            out,
            task=task,
            budget=comparison.budget,
            wall_time=sum(r["wall_time"] for r in results),
            device=args.device,
            commands=[args.command],
        )
    return [(spec.directory, result) for spec, result in pairs]


def oracle_log(directory: Path) -> list[tuple[str, float]]:
    """A run's paid calls: (SMILES, score), in order."""
    with open(directory / "oracle_log.csv") as f:
        return [(row["smiles"], float(row["score"])) for row in csv.DictReader(f)]


def run_row(directory: Path, result: dict) -> dict:
    """What every task reports of a run: its seed, calls, why it ended and its wall time."""
    return {
        "seed": result["seed"],
        "calls": result["metrics"]["calls"],
        "stop_reason": result.get("stop_reason"),
        "seconds": result["wall_time"],
        "run": str(directory),
    }


def bench_top(name: str, args) -> dict | None:
    runs = []
    for directory, result in agent_runs(args, name, args.out / name):
        best = sorted(oracle_log(directory), key=lambda row: row[1], reverse=True)[:3]
        run = {**run_row(directory, result), "top3": best}
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
            f"  {name} seed {run['seed']}: top-3 {' '.join(f'{v:.3f}' for _, v in best)}; {run['calls']} calls, "
            f"{run['seconds']:.0f} s"
        )
        runs.append(run)
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
        first = " ".join(f"{v:.3f}" for _, v in runs[0]["top3"])
        ours = f"top-3 {first} (seed {runs[0]['seed']}); top-1 {' / '.join(f'{v:.3f}' for v in top1)} ({seeds})"
    return {"task": name, "runs": runs, "ours": ours}


def bench_target(name: str, args) -> dict | None:
    target = make_task(name).objective
    runs = []
    for directory, result in agent_runs(args, name, args.out / name, propose=args.propose):
        with open(directory / "proposed.csv") as f:
            proposed = [row["smiles"] for row in csv.DictReader(f)]
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
            **run_row(directory, result),
            "success": len(hits) / len(proposed),
            "diversity": diversity(hits),
            "unique_hits": len(set(hits)),
            "proposals": spread,
        }
        print(
            f"  {name} seed {run['seed']}: success {run['success']:.1%} ({run['unique_hits']} unique), diversity "
            f"{run['diversity']:.3f}; {run['calls']} calls, {run['seconds']:.0f} s"
        )
        runs.append(run)
    if not runs:
        return None
    success = statistics.mean(r["success"] for r in runs)
    div = statistics.mean(r["diversity"] for r in runs)
    each = "; ".join(f"{r['success']:.1%}, {r['diversity']:.3f} (seed {r['seed']})" for r in runs)
    mean = f"; mean {success:.1%}, {div:.3f}" if len(runs) > 1 else ""
    return {"task": name, "runs": runs, "ours": f"success, diversity: {each}{mean} ({args.propose} samples a run)"}


def bench_constrained(args) -> dict | None:
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

    rows = []
    for threshold in args.thresholds:
        task = make_task("constrained", start_smiles=starts, threshold=threshold)
        runs = agent_runs(
            args,
            "constrained",
            args.out / f"constrained_{threshold}",
            budget=args.constrained_budget,
            task_params={"start_smiles": starts, "threshold": threshold},
            keep_agents=True,
            config={"best_window": BEST_WINDOW, **args.config},
        )
        for directory, result in runs:
            done = directory / "evaluation.json"
            if done.is_file():
                row = read_json(done, "evaluation")
            else:
                agent = GCPNAgent.load(directory / "agent", task, device=args.device)
                row = {
                    "threshold": threshold,
                    **run_row(directory, result),
                    **evaluate(agent, threshold),
                    "molecules": len(starts),
                }
                if agent.best is not None and agent.best.state is not None:  # the policy at its best window
                    best = agent.best
                    agent.policy.load_state_dict(best.state)
                    row["best_policy"] = {
                        **evaluate(agent, threshold),
                        "first": best.update - best.window + 1,
                        "update": best.update,
                        "updates": agent.updates,
                        "training_reward": best.reward,
                    }
                write_json(done, row)
            print(
                f"  constrained {threshold} seed {row['seed']}: improvement {row['improvement']:.2f} +- "
                f"{row['improvement_std']:.2f}, success {row['success']:.0%} of {len(starts)}, similarity "
                f"{row['similarity']:.2f}; {row['calls']} calls + {row['eval_scored']} evaluation molecules"
            )
            rows.append(row)
    return {"task": "constrained", "rows": rows} if rows else None


def table(results: list[dict], args) -> list[str]:
    """``results.md``: ours beside the paper's, a row per task (per threshold and seed for constrained)."""
    budgets = [f"{args.budget} oracle calls a run"] if set(args.tasks) - {"constrained"} else []
    if "constrained" in args.tasks:
        budgets.append(
            f"{args.constrained_budget} per constrained-optimisation threshold on "
            f"{args.constrained_molecules} molecules ({args.rollouts} episodes from each afterwards, "
            "scored outside the budget)"
        )
    lines = [
        f"{args.agent} on GCPN's paper's tasks, {'; '.join(budgets)}; device {args.device}; wall time: training. "
        "Made by:",
        "",
        "    " + args.command,
        "",
        "Each task's runs, curves and best molecules: its folder's results.md.",
        "",
        "| task | ours | paper | oracle calls | wall time | ended |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["task"] == "constrained":
            for row in r["rows"]:
                lines.append(
                    f"| constrained, threshold {row['threshold']}, seed {row['seed']} | {row['improvement']:.2f} +- "
                    f"{row['improvement_std']:.2f}, {row['success']:.0%} of {row['molecules']} | "
                    f"{PAPER['constrained'][row['threshold']]} | {row['calls']} (+{row['eval_scored']} eval) | "
                    f"{row['seconds']:.0f} s | {row['stop_reason'] or 'budget'} |"
                )
                if "best_policy" in row:
                    b = row["best_policy"]
                    lines.append(
                        f"| the same run's best policy (updates {b['first']}-{b['update']} of {b['updates']}) | "
                        f"{b['improvement']:.2f} +- {b['improvement_std']:.2f}, {b['success']:.0%} | "
                        f"{PAPER['constrained'][row['threshold']]} | (+{b['eval_scored']} eval) | | |"
                    )
            continue
        calls = ", ".join(str(run["calls"]) for run in r["runs"])
        seconds = ", ".join(f"{run['seconds']:.0f}" for run in r["runs"])
        reasons = [run["stop_reason"] or "budget" for run in r["runs"]]
        ended = "; ".join(
            f"{reason}{f' ({reasons.count(reason)} runs)' * (reasons.count(reason) > 1)}"
            for reason in dict.fromkeys(reasons)
        )
        lines.append(f"| {r['task']} | {r['ours']} | {PAPER[r['task']]} | {calls} | {seconds} s | {ended} |")
    for r in results:
        if r["task"] == "plogp":
            lines += [
                "",
                "plogp: the task optimises the normalised variant (GCPN/JT-VAE); the paper's table is in "
                "unnormalised units (logP - SA - ring penalty). Best molecules of the first seed:",
                "",
            ]
            lines += [
                f"- normalised {d['plogp']:.2f}, unnormalised {d['unnormalized']:.2f}, SA {d['sa']:.2f}, "
                f"{d['atoms']} atoms: `{d['smiles']}`"
                for d in r["runs"][0]["detail"]
            ]
        if r["task"] in ("logp_target", "mw_target"):
            lines += [
                "",
                f"{r['task']}: the property of the {args.propose} proposals after training "
                "(10th / 25th / 50th / 75th / 90th percentiles; shares outside the window):",
                "",
            ]
            lines += [
                f"- seed {run['seed']}: {' / '.join(f'{q:.2f}' for q in run['proposals']['quartiles'])}; "
                f"{run['proposals']['below']:.1%} below, {run['proposals']['above']:.1%} above; "
                f"{run['proposals']['unique']:.1%} of the proposals unique"
                for run in r["runs"]
            ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", default="gcpn", help="a registered agent (constrained optimisation: gcpn only)")
    parser.add_argument("--tasks", default=",".join(TASKS))
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
    parser.add_argument(
        "--workers", type=int, default=None, help="runs at a time (molgym compare's; default: one per core)"
    )
    parser.add_argument("--out", type=Path, default=None, help="default runs/bench_gcpn (runs/bench_gcpn_AGENT)")
    parser.add_argument("--report", action="store_true", help="train nothing: report the runs already in --out")
    parser.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="the agent's settings for every run (as molgym train's --config), e.g. normalize_returns=true",
    )
    parser.add_argument("--throughput", action="store_true", help="measure PPO's speed only")
    parser.add_argument("--updates", type=int, default=5, help="--throughput: PPO updates timed")
    parser.add_argument("--num-envs", type=int, default=32, help="--throughput: molecules per batch")
    args = parser.parse_args()
    try:
        cls = agent_class(args.agent)
    except ValueError as err:
        raise SystemExit(f"--agent: {err}") from None
    try:
        args.config = parse_settings(args.config)
        check_settings(cls, args.config)
    except ValueError as err:
        raise SystemExit(f"--config: {err}") from None
    if args.throughput:
        if args.agent != "gcpn":
            raise SystemExit("--throughput measures GCPN's PPO: --agent gcpn")
        return throughput(args)
    args.out = args.out or Path("runs/bench_gcpn" + ("" if args.agent == "gcpn" else f"_{args.agent}"))
    args.command = "python scripts/bench_gcpn.py " + " ".join(sys.argv[1:])
    args.constrained_budget = args.constrained_budget or args.budget
    args.seeds = sorted(set(args.seed)) if args.seed else list(range(args.seeds))
    args.thresholds = [float(t) for t in args.thresholds.split(",")]
    unknown = set(args.thresholds) - set(PAPER["constrained"])
    if unknown:
        raise SystemExit(
            f"the paper has no threshold {', '.join(map(str, sorted(unknown)))}; it has 0.0, 0.2, 0.4, 0.6"
        )
    args.tasks = args.tasks.split(",")
    unknown = set(args.tasks) - set(TASKS)
    if unknown:
        raise SystemExit(f"unknown task(s) {', '.join(sorted(unknown))}")
    if "constrained" in args.tasks and args.agent != "gcpn":
        raise SystemExit(
            f"constrained optimisation is evaluated with GCPN's policy from each start molecule: --agent gcpn, "
            f"or --tasks without constrained for {args.agent}"
        )
    print(
        f"{args.agent} on GCPN's paper's tasks: budget {args.budget} oracle calls, seeds {', '.join(map(str, args.seeds))}, "
        f"device {args.device}"
    )
    results = []
    for name in args.tasks:
        print(f"{name}:")
        if name in ("qed", "plogp"):
            result = bench_top(name, args)
        elif name in ("logp_target", "mw_target"):
            result = bench_target(name, args)
        else:
            result = bench_constrained(args)
        results += [result] if result else []  # (None: --report found no run of the task)
    lines = table(results, args)
    print("\n" + "\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "results.md", "\n".join(lines) + "\n")
    write_json(
        args.out / "results.json",
        {
            "command": args.command,
            "device": args.device,
            "results": results,
            "settings": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
        },
    )
    print(f"\nwrote {args.out / 'results.md'}, {args.out / 'results.json'} and each task's report in its folder")


if __name__ == "__main__":
    main()
