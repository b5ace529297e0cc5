"""Throughput of the graph-editing agents on a device: env steps per second of GCPN's policy acting
in the batched env, and oracle calls per second of ``genetic_gcpn`` learning, at 256 and 1,024
molecules per batch.

    python scripts/bench_gpu.py                    # on CUDA; says so and stops when there is none
    python scripts/bench_gpu.py --device cpu --sizes 64 --calls 300   # the same on the CPU

* **env steps/s**: one episode in every row of a ``MolEdit-v0`` batched env of ``B`` molecules
  (:func:`molgym.rollout.rollout`), GCPN's policy choosing every action on the device; steps of all
  rows, rejected ones included, over the wall time (the env's masks are computed on the CPU and
  copied to the device each step, as in training).
* **calls/s**: ``genetic_gcpn`` on QED with ``batch_size = B`` molecules built per update (and its
  default local search and offspring), ``--calls`` oracle calls, learning included, over the wall
  time. QED is cheap, so this is the agent's own speed.

Each figure is timed after one untimed warm-up (CUDA kernels, numba caches).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from molgym.tasks import make_task
from molgym_agents.genetic_gcpn import GeneticGCPNAgent


def env_steps_per_second(agent: GeneticGCPNAgent, size: int) -> float:
    env = agent.task.make_vector_env(None, num_envs=size, reward=[])
    with torch.no_grad():
        agent._play(env)  # warm-up; the agent's own episode loop, as it builds molecules
        _sync(agent.device)
        start = time.perf_counter()
        episodes = agent._play(env)
        _sync(agent.device)
    env.close()
    return float(np.sum(episodes.steps)) / (time.perf_counter() - start)


def calls_per_second(device: str, size: int, calls: int) -> float:
    task = make_task("qed")
    GeneticGCPNAgent(task, seed=0, device=device, batch_size=size).train(task.oracle(min(calls, 2 * size)))  # warm-up
    agent = GeneticGCPNAgent(task, seed=1, device=device, batch_size=size)
    oracle = task.oracle(calls)
    _sync(device)
    start = time.perf_counter()
    agent.train(oracle)
    _sync(device)
    return oracle.calls / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--sizes", default="256,1024", help="molecules per batch, comma-separated")
    parser.add_argument("--calls", type=int, default=3000, help="oracle calls of each genetic_gcpn run")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"no CUDA device on this machine (torch {torch.__version__}): nothing measured")
        return 0
    where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "cpu"
    print(f"device {args.device} ({where}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print("| molecules per batch | env steps/s (GCPN policy acting) | genetic_gcpn oracle calls/s |")
    print("| --- | --- | --- |")
    agent = GeneticGCPNAgent(make_task("qed"), seed=0, device=args.device)
    for size in (int(s) for s in args.sizes.split(",")):
        steps = env_steps_per_second(agent, size)
        calls = calls_per_second(args.device, size, args.calls)
        print(f"| {size} | {steps:,.0f} | {calls:,.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
