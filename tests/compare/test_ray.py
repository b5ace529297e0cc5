"""Comparisons on Ray: a local 2-CPU instance stands in for a cluster (Ray comes with the dev extra)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time

import pytest
import ray

from molgym.cli import main
from molgym.compare import RAY_ATTEMPTS, Comparison, compare

AGENTS = ("random", "tests.agents_for_tests:ListAgent")

pytestmark = pytest.mark.xdist_group("ray")  # one Ray instance for the module: its tests run in one test worker


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}},
    )
    yield
    ray.shutdown()


def _logs(out):
    return {p.relative_to(out).as_posix(): p.read_text() for p in sorted(out.rglob("oracle_log.csv"))}


def test_compare_on_ray_equals_the_process_pool(tmp_path, local_ray):
    comparison = Comparison("qed", AGENTS, budget=6, seeds=2, propose=2, training_set=None)
    pool = compare(comparison, tmp_path / "pool", workers=2)
    on_ray = compare(comparison, tmp_path / "ray", executor="ray")
    assert [r["status"] for r in on_ray] == ["ok"] * 4
    assert [(r["agent"], r["seed"], r["metrics"]) for r in on_ray] == [
        (r["agent"], r["seed"], r["metrics"]) for r in pool
    ]
    logs = _logs(tmp_path / "ray")
    assert len(logs) == 4 and logs == _logs(tmp_path / "pool")  # every oracle call, in order, the same
    again = compare(comparison, tmp_path / "ray", executor="ray")  # resumes: nothing left to run
    assert [r["wall_time"] for r in again] == [r["wall_time"] for r in on_ray]


def test_a_worker_killed_mid_run_is_retried_and_one_that_keeps_dying_is_reported(tmp_path, local_ray):
    agent = "tests.agents_for_tests:DyingAgent"
    markers = tmp_path / "markers"
    markers.mkdir()
    once = compare(
        Comparison(
            "qed",
            (agent,),
            budget=4,
            seeds=1,
            propose=0,
            training_set=None,
            configs={agent: {"marker_dir": str(markers), "deaths": 1}},
        ),
        tmp_path / "once",
        executor="ray",
    )
    assert once[0]["status"] == "ok" and once[0]["metrics"]["calls"] == 4
    assert len(list(markers.iterdir())) == 1  # it died once, and the retry finished the run
    always = compare(
        Comparison(
            "qed",
            (agent,),
            budget=4,
            seeds=1,
            propose=0,
            training_set=None,
            configs={agent: {"marker_dir": str(markers), "deaths": 99}},
        ),
        tmp_path / "always",
        executor="ray",
    )
    assert always[0]["status"] == "error" and f"died {RAY_ATTEMPTS} times" in always[0]["error"]
    saved = json.loads((tmp_path / "always" / "results.json").read_text())
    assert saved["runs"][0]["status"] == "error"  # reported in the comparison, not dropped


def test_ray_address_needs_the_ray_executor(tmp_path, capsys):
    argv = [
        "compare",
        "--agents",
        "random",
        "--budget",
        "2",
        "--seeds",
        "1",
        "--ray-address",
        "auto",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main(argv) != 0
    assert "--ray-address needs --executor ray" in capsys.readouterr().err


def test_ray_actors_score_the_same_final_rewards_as_this_process(local_ray):
    import numpy as np

    import molgym
    from molgym.envs.vector import MolEditVectorEnv

    kwargs = {"min_steps": 2, "max_steps": 10}
    here = MolEditVectorEnv(molgym.envs.MolEditPLogPEnv, num_envs=6, n_workers=0, **kwargs)
    actors = MolEditVectorEnv(molgym.envs.MolEditPLogPEnv, num_envs=6, n_workers=2, scorer="ray", **kwargs)
    try:
        here.reset(seed=3)
        actors.reset(seed=3)
        rng = np.random.default_rng(3)
        finished = 0
        for _ in range(40):
            k = np.array([rng.choice(np.flatnonzero(m)) for m in here.action_masks()])
            _, r1, t1, u1, i1 = here.step(k)
            _, r2, t2, u2, i2 = actors.step(k)
            assert np.array_equal(r1, r2) and np.array_equal(t1 | u1, t2 | u2)
            finished += int((t1 | u1).sum())
        assert finished > 10
    finally:
        here.close()
        actors.close()
    assert ray.is_initialized()  # the env used the instance it found, and left it running


def test_the_ray_executor_without_ray_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" now fails as on a machine without it
    out = tmp_path / "x"
    argv = ["compare", "--agents", "random", "--budget", "2", "--seeds", "1", "--executor", "ray", "--out", str(out)]
    assert main(argv) != 0
    assert "pip install 'molgym[ray]'" in capsys.readouterr().err
    assert not out.exists()


def test_a_scoring_actor_killed_mid_step_is_restarted_and_scores_the_same(tmp_path, local_ray):
    import numpy as np

    from molgym.envs.vector import MolEditVectorEnv

    marker = tmp_path / "killed"

    def atoms_once_killing(mol):  # shipped to the actors by cloudpickle, marker path and all
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), 9)
        return mol.GetNumAtoms() / 10

    kwargs = {"num_envs": 4, "min_steps": 1, "max_steps": 3}
    here = MolEditVectorEnv(reward=lambda mol: mol.GetNumAtoms() / 10, n_workers=0, **kwargs)
    actors = MolEditVectorEnv(reward=atoms_once_killing, n_workers=2, scorer="ray", **kwargs)
    try:
        # Ray deletes an object once no reference is left, and a restarted actor reruns its constructor
        # with the reward object: give Ray time to delete it, were the scorer not holding it
        gc.collect()
        time.sleep(3)
        here.reset(seed=1)
        actors.reset(seed=1)
        rng = np.random.default_rng(1)
        for _ in range(9):
            k = np.array([rng.choice(np.flatnonzero(m)) for m in here.action_masks()])
            assert np.array_equal(here.step(k)[1], actors.step(k)[1])
    finally:
        here.close()
        actors.close()
    assert marker.exists()  # an actor did die, and its share was scored again by its restarted self
