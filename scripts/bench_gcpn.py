"""GCPN on the paper's tasks under a fixed oracle budget, beside the paper's figures.

Run: ``python scripts/bench_gcpn.py [--budget 10000] [--seeds 3] [--tasks qed,plogp,logp_target,mw_target,constrained]
[--constrained-molecules 800] [--constrained-budget N] [--device cpu] [--out runs/bench_gcpn]``

Every run starts from the shipped checkpoint (``agents/gcpn/checkpoints``) and trains with PPO
until ``--budget`` oracle calls (one call = one new unique molecule scored) are spent. Printed per
task: our figure, the paper's (You et al., NeurIPS 2018, tables 1-3), oracle calls, wall time,
device, and PPO throughput (env steps per second, policy and scoring included).

* qed, plogp: the three best molecules the oracle scored. For plogp also the variant optimised
  (the normalised one of GCPN/JT-VAE), the unnormalised value (logP - SA - ring penalty) and the
  SA of those molecules: long carbon chains game this score.
* logp_target, mw_target: after training, ``--propose`` molecules are sampled; success is the
  share inside the target range, diversity the mean pairwise Tanimoto distance of the successes.
* constrained: for each similarity threshold one agent trains on the start molecules under
  ``--constrained-budget`` calls; then ``--rollouts`` episodes start from each molecule. A
  molecule succeeds when some result keeps the similarity; its improvement is the best
  unnormalised penalized-logP gain among those. Evaluation molecules are scored outside the
  budget and counted separately.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from rdkit import Chem
from tqdm.auto import tqdm

from agents.gcpn.agent import GCPNAgent
from molgym.data.datasets import MOSES_PATH
from molgym.metrics import diversity
from molgym.rewards import Context, PenalizedLogP
from molgym.rewards.properties import sa_score, tanimoto
from molgym.tasks import make_task

PAPER = {
    "qed": "top-3 0.948 0.947 0.946",
    "plogp": "top-3 7.98 7.85 7.80",
    "logp_target": "success 85.5%, diversity 0.392",
    "mw_target": "success 74.1%, diversity 0.920",
    "constrained": {0.0: "4.20, 100%", 0.2: "4.12, 100%", 0.4: "2.49, 100%", 0.6: "0.79, 100%"},
}
CONSTRAINED_FILE = MOSES_PATH.parent / "zinc_low_plogp_800.txt"


def train(task, seed: int, budget: int, device: str, position: str):
    """One GCPN run from the shipped checkpoint: (agent, oracle, seconds, env steps per second)."""
    bar = tqdm(total=budget, desc=position, unit="call", leave=False)
    best = [float("-inf")]

    def progress(_, smiles, score):
        best[0] = max(best[0], score)
        bar.update(1)
        bar.set_postfix(best=f"{best[0]:.3f}", refresh=False)

    oracle = task.oracle(budget, on_call=progress)
    agent = GCPNAgent(task, seed=seed, device=device)
    began = time.perf_counter()
    agent.train(oracle)
    seconds = time.perf_counter() - began
    bar.close()
    return agent, oracle, seconds, agent.steps / seconds


def top3(oracle) -> list[tuple[str, float]]:
    return [(s, v) for _, s, v in sorted(oracle.log, key=lambda row: row[2], reverse=True)[:3]]


def bench_top(name: str, args) -> dict:
    runs = []
    for seed in range(args.seeds):
        agent, oracle, seconds, throughput = train(make_task(name), seed, args.budget, args.device, f"{name} seed {seed}")
        best = top3(oracle)
        run = {"seed": seed, "top3": best, "calls": oracle.calls, "seconds": seconds, "steps_per_s": throughput}
        if name == "plogp":
            unnormalized = PenalizedLogP("unnormalized")
            run["detail"] = [{"smiles": s, "plogp": v, "unnormalized": unnormalized.of(Chem.MolFromSmiles(s)),
                              "sa": sa_score(Chem.MolFromSmiles(s)),
                              "atoms": Chem.MolFromSmiles(s).GetNumAtoms()} for s, v in best]
        runs.append(run)
        print(f"  {name} seed {seed}: top-3 {' '.join(f'{v:.3f}' for _, v in best)}; {oracle.calls} calls, "
              f"{seconds:.0f} s, {throughput:.0f} env steps/s")
    top1 = [r["top3"][0][1] for r in runs]
    return {"task": name, "runs": runs, "median_top1": statistics.median(top1),
            "ours": f"top-3 {' '.join(f'{v:.3f}' for _, v in runs[0]['top3'])} (seed 0); median top-1 "
                    f"{statistics.median(top1):.3f} over {len(runs)} seeds"}


def bench_target(name: str, args) -> dict:
    runs = []
    for seed in range(args.seeds):
        task = make_task(name)
        agent, oracle, seconds, throughput = train(task, seed, args.budget, args.device, f"{name} seed {seed}")
        proposed = agent.propose(args.propose)
        target = task.objective
        hits = [s for s in proposed if target.low <= target.prop(Context.of_mol(Chem.MolFromSmiles(s))) <= target.high]
        run = {"seed": seed, "success": len(hits) / len(proposed), "diversity": diversity(hits),
               "unique_hits": len(set(hits)), "calls": oracle.calls, "seconds": seconds, "steps_per_s": throughput}
        runs.append(run)
        print(f"  {name} seed {seed}: success {run['success']:.1%} ({run['unique_hits']} unique), diversity "
              f"{run['diversity']:.3f}; {oracle.calls} calls, {seconds:.0f} s, {throughput:.0f} env steps/s")
    success = statistics.mean(r["success"] for r in runs)
    div = statistics.mean(r["diversity"] for r in runs)
    return {"task": name, "runs": runs, "ours": f"success {success:.1%}, diversity {div:.3f} "
                                                 f"(mean of {len(runs)} seeds, {args.propose} samples each)"}


def bench_constrained(args) -> dict:
    starts = [line.split()[0] for line in CONSTRAINED_FILE.read_text().splitlines() if line.strip()]
    starts = starts[: args.constrained_molecules]
    plogp = PenalizedLogP("unnormalized")
    rows = []
    for threshold in (0.0, 0.2, 0.4, 0.6):
        task = make_task("constrained", start_smiles=starts, threshold=threshold)
        agent, oracle, seconds, throughput = train(task, 0, args.constrained_budget, args.device, f"constrained {threshold}")
        gains, sims, scored = [], [], 0
        for smiles in tqdm(starts, desc=f"optimise at {threshold}", unit="mol", leave=False):
            start = Chem.MolFromSmiles(smiles)
            base = plogp.of(start)
            results = set(agent.rollouts(args.rollouts, start=smiles))
            scored += len(results)
            kept = [(plogp.of(m) - base, tanimoto(m, start)) for m in map(Chem.MolFromSmiles, results)]
            kept = [(g, s) for g, s in kept if s >= threshold]
            if kept:
                gain, sim = max(kept)
                gains.append(gain)
                sims.append(sim)
        row = {"threshold": threshold, "improvement": statistics.mean(gains) if gains else float("nan"),
               "improvement_std": statistics.pstdev(gains) if gains else float("nan"),
               "similarity": statistics.mean(sims) if sims else float("nan"), "success": len(gains) / len(starts),
               "molecules": len(starts), "calls": oracle.calls, "eval_scored": scored, "seconds": seconds,
               "steps_per_s": throughput}
        rows.append(row)
        print(f"  constrained {threshold}: improvement {row['improvement']:.2f} +- {row['improvement_std']:.2f}, "
              f"success {row['success']:.0%} of {len(starts)}, similarity {row['similarity']:.2f}; "
              f"{oracle.calls} calls + {scored} evaluation molecules, {seconds:.0f} s")
    return {"task": "constrained", "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="qed,plogp,logp_target,mw_target,constrained")
    parser.add_argument("--budget", type=int, default=10000, help="oracle calls per run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--propose", type=int, default=1000, help="samples for property targeting")
    parser.add_argument("--constrained-molecules", type=int, default=800)
    parser.add_argument("--constrained-budget", type=int, default=None, help="oracle calls per threshold (default --budget)")
    parser.add_argument("--rollouts", type=int, default=8, help="episodes from each start molecule")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="runs/bench_gcpn")
    args = parser.parse_args()
    args.constrained_budget = args.constrained_budget or args.budget
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)"
    print(f"GCPN benchmark: budget {args.budget} oracle calls, {args.seeds} seeds, device {device}, "
          f"torch threads {torch.get_num_threads()}")
    results = []
    for name in args.tasks.split(","):
        print(f"{name}:")
        if name in ("qed", "plogp"):
            results.append(bench_top(name, args))
        elif name in ("logp_target", "mw_target"):
            results.append(bench_target(name, args))
        elif name == "constrained":
            results.append(bench_constrained(args))
        else:
            raise SystemExit(f"unknown task {name!r}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"device": device, "args": vars(args), "results": results}, indent=2))

    print(f"\n| task | ours | paper | oracle calls | wall time | env steps/s | device |\n|---|---|---|---|---|---|---|")
    for r in results:
        if r["task"] == "constrained":
            for row in r["rows"]:
                print(f"| constrained, threshold {row['threshold']} | {row['improvement']:.2f} +- "
                      f"{row['improvement_std']:.2f}, {row['success']:.0%} of {row['molecules']} | "
                      f"{PAPER['constrained'][row['threshold']]} | {row['calls']} (+{row['eval_scored']} eval) | "
                      f"{row['seconds']:.0f} s | {row['steps_per_s']:.0f} | {device} |")
            continue
        calls = sum(run["calls"] for run in r["runs"])
        seconds = sum(run["seconds"] for run in r["runs"])
        speed = statistics.mean(run["steps_per_s"] for run in r["runs"])
        print(f"| {r['task']} | {r['ours']} | {PAPER[r['task']]} | {calls} ({len(r['runs'])} runs) | {seconds:.0f} s | "
              f"{speed:.0f} | {device} |")
    for r in results:
        if r["task"] == "plogp":
            print("\nplogp: the task optimises the normalised variant (GCPN/JT-VAE); best molecules of seed 0:")
            for d in r["runs"][0]["detail"]:
                print(f"  normalised {d['plogp']:.2f}, unnormalised {d['unnormalized']:.2f}, SA {d['sa']:.2f}, "
                      f"{d['atoms']} atoms: {d['smiles']}")
    print(f"\nwrote {out / 'results.json'}")


if __name__ == "__main__":
    main()
