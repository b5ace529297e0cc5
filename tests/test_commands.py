"""The ``molgym`` commands as a new user meets them: bad input is one line and status 2 before any
work or file, failures are status 1, ``sample`` reads every kind of checkpoint, ``--resume``
continues only the run it finds, and the help tells the defaults."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from molgym.cli import main

CHAIN = "tests.agents_for_tests:ChainAgent"


def _fails(argv, capsys, status: int = 2) -> str:
    """Run a command that must fail: its status, one line on stderr, no traceback."""
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize("argv, says", [
    (["rollout", "--env", "Foo-v0"], "invalid choice: 'Foo-v0'"),
    (["rollout", "--top", "0"], "--top: must be at least 1"),
    (["rollout", "--start", "/no/such/starts.txt"], "neither an existing file"),
    (["pretrain", "gcpn", "--batch-size", "0"], "--batch-size: must be at least 1"),
    (["pretrain", "gcpn", "--lr", "0"], "--lr: must be above 0"),
    (["pretrain", "random"], "agent 'random' has no pretraining step"),
    (["pretrain", "gcpn-x"], "unknown agent 'gcpn-x': registered agents are "),
    (["sample", "--checkpoint", "x", "-n", "0"], "argument -n: must be at least 1"),
    (["train", "gcpn", "--config", "num_envs=abc"], "gcpn setting num_envs takes an integer (default 32), got 'abc'"),
    (["train", "gcpn", "--config", "num_env=4"], "unknown gcpn setting 'num_env'"),
    (["train", "random", "--task", "custom", "--reward", "os:getcwd"], "custom reward os:getcwd cannot score ethanol"),
    (["train", "random", "--task", "qed", "--reward", "os:getcwd"], "--reward is for the custom task"),
    (["train", "random", "--task", "constrained", "--start", "/no/such/starts.txt"], "neither an existing file"),
    (["compare", "--agents", "random", "--training-set", "/no/such/set.smi"], "neither a known dataset"),
    (["compare", "--agents", "random", "--config", "gcpn.num_envs=4"], "'gcpn' is not one of the agents compared"),
])
def test_bad_input_is_one_line_before_any_file(argv, says, tmp_path, capsys):
    out = tmp_path / "out"
    if argv[0] in ("rollout", "train", "compare"):
        argv = [*argv, "--out", str(out)]
    assert says in _fails(argv, capsys)
    assert not out.exists()


def test_garbage_start_files_are_bad_input(tmp_path, capsys):
    words, binary = tmp_path / "words.txt", tmp_path / "binary.smi"
    words.write_text("hello world\nCCO\n")
    binary.write_bytes(b"\x00\xff\xfe garbage\n")
    for starts in (words, binary):
        out = tmp_path / starts.stem
        line = _fails(["train", "random", "--task", "constrained", "--start", str(starts), "--budget", "5",
                       "--out", str(out)], capsys)
        assert line.startswith("molgym train: ") and not out.exists()
    assert "invalid SMILES 'hello'" in _fails(["rollout", "--env", "MolOpt-v0", "--start", str(words), "--out",
                                               str(tmp_path / "r")], capsys)


def test_a_failure_during_the_work_is_status_1_and_one_line(tmp_path, capsys):
    line = _fails(["train", "tests.agents_for_tests:BrokenAgent", "--budget", "5", "--out", str(tmp_path / "b")],
                  capsys, status=1)
    assert line == "molgym train: RuntimeError: the policy diverged (--debug shows the traceback)"
    with pytest.raises(RuntimeError, match="diverged"):
        main(["train", "tests.agents_for_tests:BrokenAgent", "--budget", "5", "--out", str(tmp_path / "c"), "--debug"])


def test_help_shows_defaults_agent_names_and_the_version(capsys):
    assert main(["compare", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 10000)" in text and "gcpn, graph_ga, graphrnn, molgan, random, reinvent, sb3-ppo" in text
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("molgym 0.")


def test_resume_continues_only_the_run_it_finds(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", CHAIN, "--task", "qed", "--budget", "50", "--steps", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    for change, says in ((["--task", "plogp"], "task 'qed' (asked 'plogp')"),
                         (["--budget", "60"], "budget 50 (asked 60)"),
                         (["--seed", "3"], "seed 0 (asked 3)"),
                         (["--config", "pause=0.5"], "config")):
        assert says in _fails(["train", CHAIN, "--out", str(out), "--resume", "--steps", "5", *change], capsys)
    assert "holds a run of agent" in _fails(["train", "random", "--out", str(out), "--resume"], capsys)
    assert "already holds a run" in _fails(["train", CHAIN, "--budget", "50", "--out", str(out)], capsys)
    assert main(["train", CHAIN, "--out", str(out), "--resume", "--steps", "5", "--task", "qed"]) == 0
    log = list(csv.DictReader(open(out / "log.csv")))
    assert [r["update"] for r in log] == ["1", "2", "3", "4", "5"]


def test_sample_from_a_constrained_run_scores_against_each_start(tmp_path, capsys):
    starts = tmp_path / "starts.smi"
    starts.write_text("CCO\nc1ccccc1N\nCC(=O)O\n")
    out = tmp_path / "opt"
    assert main(["train", "random", "--task", "constrained", "--start", str(starts), "--threshold", "0.2",
                 "--budget", "6", "--out", str(out)]) == 0
    samples = tmp_path / "samples.csv"
    assert main(["sample", "--checkpoint", str(out), "-n", "2", "--out", str(samples)]) == 0
    rows = list(csv.DictReader(open(samples)))
    assert [r["start"] for r in rows] == ["CCO", "CCO", "c1ccccc1N", "c1ccccc1N", "CC(=O)O", "CC(=O)O"]
    from molgym.chem import AtomVocab, MolGraph
    from molgym.rewards import ConstrainedImprovement, Context
    from rdkit import Chem

    vocab = AtomVocab.default()
    for r in rows:
        ctx = Context.of_mol(Chem.MolFromSmiles(r["smiles"]), start=MolGraph.from_smiles(r["start"], vocab, 38))
        assert float(r["constrained"]) == pytest.approx(ConstrainedImprovement(0.2)(ctx))
    # another start set, and a failure that leaves no file
    assert main(["sample", "--checkpoint", str(out), "--start", "CCCC", "-n", "3", "--out", str(samples)]) == 0
    assert [r["start"] for r in csv.DictReader(open(samples))] == ["CCCC"] * 3
    failed = tmp_path / "failed.csv"
    assert "neither an existing file" in _fails(["sample", "--checkpoint", str(out), "--start", "nope!",
                                                 "--out", str(failed)], capsys)
    assert not failed.exists()


def test_sample_reads_the_shipped_checkpoint_and_names_what_it_got(tmp_path, capsys):
    from molgym_agents.gcpn.agent import PRETRAINED

    samples = tmp_path / "shipped.csv"
    assert main(["sample", "--checkpoint", str(PRETRAINED), "-n", "6", "--out", str(samples)]) == 0
    captured = capsys.readouterr()
    assert "gcpn pretrained weights" in captured.out and "sampling" in captured.err  # the progress bar
    rows = list(csv.DictReader(open(samples)))
    assert len(rows) == 6 and all(0 <= float(r["qed"]) <= 1 for r in rows)
    not_one = tmp_path / "agent.json"
    not_one.write_text("{}")
    assert "neither a molgym train directory" in _fails(["sample", "--checkpoint", str(not_one)], capsys)


def test_sample_reads_an_unfinished_run_from_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", CHAIN, "--budget", "50", "--steps", "4", "--out", str(out)]) == 0
    for name in ("agent.json", "counters.json"):  # as if stopped before the end: only the checkpoint
        (out / name).unlink()
    samples = tmp_path / "s.csv"
    assert main(["sample", "--checkpoint", str(out), "-n", "2", "--out", str(samples)]) == 0
    assert "its last checkpoint, update 4" in capsys.readouterr().out
    assert [r["smiles"] for r in csv.DictReader(open(samples))] == ["CCCC", "CCCC"]


def test_stereochemistry_is_dropped_and_said(tmp_path):
    import gymnasium as gym

    from molgym.chem import AtomVocab, StereoDropped
    from molgym.data import encode_smiles

    env = gym.make("MolEdit-v0")
    with pytest.warns(StereoDropped, match="C\\[C@H\\]\\(N\\)O"):
        _, info = env.reset(options={"smiles": "C[C@H](N)O"})
    assert info["smiles"] == "CC(N)O"
    with pytest.warns(StereoDropped, match="dropped from 2 of 3 start molecules"):
        gym.make("MolOpt-v0", start_smiles=["C[C@H](N)O", "C/C=C/C", "CCO"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym.make("MolOpt-v0", start_smiles=["CC(N)O", "CC=CC"])  # no stereo, no warning
    encoded = encode_smiles(["C[C@H](N)O", "C/C=C/C", "CCO", "[13CH4]"], AtomVocab.default(), 38)
    assert encoded.stereo_dropped == 2 and encoded.skipped["isotope"] == 1
    assert "stereochemistry dropped from 2" in encoded.summary()
    with pytest.raises(ValueError, match="at least one atom type"):
        gym.make("MolEdit-v0", atom_types=[])


def test_pictures_have_a_title(tmp_path):
    out = tmp_path / "roll"
    assert main(["rollout", "--episodes", "3", "--top", "2", "--out", str(out)]) == 0
    image = np.asarray(Image.open(out / "top.png").convert("L"))
    assert (image[:28] < 128).any()  # text in the header strip
    assert (image[:2] == 255).all()  # above the text, white


def test_compare_reports_one_seed_in_the_singular(tmp_path, capsys):
    out = tmp_path / "one"
    assert main(["compare", "--agents", "random", "--budget", "4", "--seeds", "1", "--propose", "0",
                 "--workers", "1", "--out", str(out)]) == 0
    assert (out / "results.md").read_text().startswith("# qed: 1 seed, budget 4 oracle calls")
    assert json.loads((out / "random" / "seed0" / "run.json").read_text())["budget"] == 4


def test_settings_are_checked_against_the_constructor():
    from molgym.agent import check_settings
    from tests.agents_for_tests import ChainAgent, ListAgent

    check_settings(ChainAgent, {"pause": 1})  # an int where a float is expected
    with pytest.raises(ValueError, match="chain setting pause takes a number"):
        check_settings(ChainAgent, {"pause": "slow"})
    with pytest.raises(ValueError, match="unknown chain setting 'speed'; its settings are pause"):
        check_settings(ChainAgent, {"speed": 1})
    check_settings(ListAgent, {"anything": [1, 2]})  # a constructor taking **config accepts any name
