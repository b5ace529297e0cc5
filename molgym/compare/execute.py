"""Where a comparison's runs are made: in this process, in worker processes, or as Ray tasks.

:func:`run_all` takes the planned runs (:class:`~molgym.compare.runs.RunSpec`) and returns their
results in order. Worker processes each make one run (:func:`~molgym.compare.runs.run_one`) with
their share of the cores; Ctrl-C (or any exception in this process) terminates them within
seconds, finished runs stay, an unfinished one is redone by the next command, and a worker whose
parent dies ends itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from molgym.compare.runs import RunSpec, lost, read_result, run_one

__all__ = ["EXECUTORS", "RAY_ATTEMPTS", "run_all", "finished_line"]

#: How a comparison makes its runs: this machine's processes, or a Ray cluster.
EXECUTORS = ("process", "ray")
RAY_ATTEMPTS = 3  #: tries of a run on Ray whose worker dies (a failing agent is reported, not retried)


def run_all(
    specs: list[RunSpec], workers: int | None = None, executor: str = "process", ray_address: str | None = None
) -> list[dict[str, Any]]:
    """Every run's result: ``workers`` at a time in separate processes (default: one per core; 1: in
    this process), or as Ray tasks (``executor="ray"``, on ``ray_address`` or a local Ray)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    if executor == "ray":
        return _run_on_ray(specs, ray_address)
    cores = os.cpu_count() or 1
    workers = min(workers or cores, len(specs))
    if workers <= 1:
        return [run_one(spec) for spec in specs]
    return _run_in_processes(specs, workers, threads=max(1, cores // workers))


def finished_line(result: dict[str, Any]) -> str:
    """One line for a run that has ended (what a log shows where progress bars would garble it)."""
    head = f"{result['agent']} seed {result['seed']}" + (f" on {result['task']}" if "task" in result else "")
    if result["status"] != "ok":
        return f"{head}: failed: {result['error']}"
    metrics = result["metrics"]
    return (
        f"{head}: finished, {metrics['calls']} oracle calls, top-1 {metrics['top1']:.3f}, "
        f"AUC top-10 {metrics['auc_top10']:.3f}, {result['wall_time']:.0f} s"
    )


def _worker(spec: RunSpec, threads: int, parent: int, progress: bool) -> None:
    """A worker process: one run. Ctrl-C is the parent's to handle (it terminates the workers);
    a worker whose parent died ends itself within a second."""
    import signal

    from tqdm.auto import tqdm

    from molgym import set_threads

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_threads(threads)
    tqdm.set_lock(threading.RLock())  # not tqdm's default multiprocessing lock, which a terminated worker would leak

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    run_one(spec, progress)


def _run_in_processes(specs: list[RunSpec], workers: int, threads: int) -> list[dict[str, Any]]:
    """Every run in its own process, ``workers`` at a time; on any exception (Ctrl-C) the running
    workers are terminated (killed if they do not end within 5 s) before it propagates."""
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    bars = sys.stderr.isatty()  # one bar per worker on a terminal; redirected, bars at positions garble the file
    results: list[dict[str, Any] | None] = [None] * len(specs)
    waiting = list(range(len(specs)))
    running: dict[int, tuple[int, Any]] = {}  # sentinel -> (spec index, process)
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                i = waiting.pop(0)
                process = context.Process(target=_worker, args=(specs[i], threads, os.getpid(), bars), daemon=True)
                process.start()
                running[process.sentinel] = (i, process)
            for sentinel in wait(list(running), timeout=1.0):
                i, process = running.pop(sentinel)
                process.join()
                results[i] = read_result(specs[i].directory / "result.json") or lost(
                    specs[i], f"the worker process died (exit code {process.exitcode})"
                )
                if not bars:
                    print(finished_line(results[i]), file=sys.stderr, flush=True)
    finally:
        for _, process in running.values():
            process.terminate()
        for _, process in running.values():
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
    return results  # type: ignore[return-value]


def _ray_run(spec: RunSpec) -> dict[str, Any]:
    """A Ray task: one run, with the threads of the CPU it asked for (Ray reuses a worker process
    for later tasks, so torch may be imported already: :func:`molgym.set_threads` changes it then)."""
    from molgym import set_threads

    set_threads(1)
    return run_one(spec, progress=False)


def _run_on_ray(specs: list[RunSpec], address: str | None) -> list[dict[str, Any]]:
    """Every run as a Ray task asking for one CPU (and one GPU when its device is ``cuda``), on the
    cluster at ``address`` or on a Ray instance started here (stopped at the end). Ray retries a
    run whose worker died (up to :data:`RAY_ATTEMPTS` tries); one that still has no result is
    reported as lost. Runs write into their directories, so on a cluster ``out`` must be a path every
    node sees. On any exception (Ctrl-C) the remaining tasks are cancelled before it propagates."""
    from molgym.distributed import import_ray, start_ray

    ray = import_ray()
    started_here = start_ray(address)
    task = ray.remote(_ray_run)
    refs = {}
    for i, spec in enumerate(specs):
        gpus = 1 if spec.device.startswith("cuda") else 0
        refs[task.options(num_cpus=1, num_gpus=gpus, max_retries=RAY_ATTEMPTS - 1).remote(spec)] = i
    results: list[dict[str, Any] | None] = [None] * len(specs)
    waiting = list(refs)
    try:
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1, timeout=1.0)
            for ref in done:
                i = refs[ref]
                try:
                    results[i] = ray.get(ref)
                except ray.exceptions.RayError as err:  # the worker died RAY_ATTEMPTS times, or the node was lost
                    why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                    results[i] = lost(
                        specs[i], f"the Ray worker died {RAY_ATTEMPTS} times ({type(err).__name__}: {why})"
                    )
                print(finished_line(results[i]), file=sys.stderr, flush=True)
    finally:
        for ref in waiting:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
    return results  # type: ignore[return-value]
