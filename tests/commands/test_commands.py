"""The ``molgym`` commands as a new user meets them: bad input is one line and status 2 before any
work or file, failures are status 1, ``sample`` reads every kind of checkpoint, ``--resume``
continues only the run it finds, and the help tells the defaults."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from molgym.cli import main

CHAIN = "tests.agents_for_tests:ChainAgent"


def _fails(argv, capsys, status: int = 2) -> str:
    """Run a command that must fail: its status, one line on stderr, no traceback."""
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize(
    "argv, says",
    [
        (["rollout", "--env", "Foo-v0"], "invalid choice: 'Foo-v0'"),
        (["rollout", "--top", "0"], "--top: must be at least 1"),
        (["rollout", "--start", "/no/such/starts.txt"], "neither an existing file"),
        (["pretrain", "gcpn", "--batch-size", "0"], "--batch-size: must be at least 1"),
        (["pretrain", "gcpn", "--lr", "0"], "--lr: must be above 0"),
        (["pretrain", "random"], "agent 'random' has no pretraining step"),
        (["pretrain", "gcpn-x"], "unknown agent 'gcpn-x': registered agents are "),
        (["sample", "--checkpoint", "x", "-n", "0"], "argument -n: must be at least 1"),
        (
            ["train", "gcpn", "--config", "num_envs=abc"],
            "gcpn setting num_envs takes an integer (default 32), got 'abc'",
        ),
        (["train", "gcpn", "--config", "num_env=4"], "unknown gcpn setting 'num_env'"),
        (
            ["train", "random", "--task", "custom", "--reward", "os:getcwd"],
            "custom reward os:getcwd cannot score ethanol",
        ),
        (["train", "random", "--task", "qed", "--reward", "os:getcwd"], "--reward is for the custom task"),
        (["train", "random", "--task", "constrained", "--start", "/no/such/starts.txt"], "neither an existing file"),
        (["compare", "--agents", "random", "--training-set", "/no/such/set.smi"], "neither a known dataset"),
        (["compare", "--agents", "random", "--config", "gcpn.num_envs=4"], "'gcpn' is not one of the agents compared"),
    ],
)
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
        line = _fails(
            ["train", "random", "--task", "constrained", "--start", str(starts), "--budget", "5", "--out", str(out)],
            capsys,
        )
        assert line.startswith("molgym train: ") and not out.exists()
    assert "invalid SMILES 'hello'" in _fails(
        ["rollout", "--env", "MolOpt-v0", "--start", str(words), "--out", str(tmp_path / "r")], capsys
    )


def test_a_failure_during_the_work_is_status_1_and_one_line(tmp_path, capsys):
    line = _fails(
        ["train", "tests.agents_for_tests:BrokenAgent", "--budget", "5", "--out", str(tmp_path / "b")], capsys, status=1
    )
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
    for change, says in (
        (["--task", "plogp"], "task 'qed' (asked 'plogp')"),
        (["--budget", "60"], "budget 50 (asked 60)"),
        (["--seed", "3"], "seed 0 (asked 3)"),
        (["--config", "pause=0.5"], "config"),
    ):
        assert says in _fails(["train", CHAIN, "--out", str(out), "--resume", "--steps", "5", *change], capsys)
    assert "holds a run of agent" in _fails(["train", "random", "--out", str(out), "--resume"], capsys)
    refused = _fails(["train", CHAIN, "--budget", "60", "--steps", "4", "--out", str(out)], capsys)
    assert "budget 50 (asked 60)" in refused and "the command that made it continues it" in refused
    assert main(["train", CHAIN, "--task", "qed", "--budget", "50", "--steps", "4", "--out", str(out)]) == 0
    assert "continuing" in capsys.readouterr().out  # the same settings: the run goes on
    assert main(["train", CHAIN, "--out", str(out), "--resume", "--steps", "5", "--task", "qed"]) == 0
    log = list(csv.DictReader(open(out / "log.csv")))
    assert [r["update"] for r in log] == ["1", "2", "3", "4", "5"]


def test_sample_from_a_constrained_run_scores_against_each_start(tmp_path, capsys):
    starts = tmp_path / "starts.smi"
    starts.write_text("CCO\nc1ccccc1N\nCC(=O)O\n")
    out = tmp_path / "opt"
    assert (
        main(
            [
                "train",
                "random",
                "--task",
                "constrained",
                "--start",
                str(starts),
                "--threshold",
                "0.2",
                "--budget",
                "6",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    samples = tmp_path / "samples.csv"
    assert main(["sample", "--checkpoint", str(out), "-n", "2", "--out", str(samples)]) == 0
    rows = list(csv.DictReader(open(samples)))
    assert [r["start"] for r in rows] == ["CCO", "CCO", "c1ccccc1N", "c1ccccc1N", "CC(=O)O", "CC(=O)O"]
    from rdkit import Chem

    from molgym.chem import AtomVocab, MolGraph
    from molgym.rewards import ConstrainedImprovement, Context

    vocab = AtomVocab.default()
    for r in rows:
        ctx = Context.of_mol(Chem.MolFromSmiles(r["smiles"]), start=MolGraph.from_smiles(r["start"], vocab, 38))
        assert float(r["constrained"]) == pytest.approx(ConstrainedImprovement(0.2)(ctx))
    # another start set, and a failure that leaves no file
    assert (
        main(["sample", "--checkpoint", str(out), "--start", "CCCC", "-n", "3", "--out", str(samples), "--overwrite"])
        == 0
    )
    assert [r["start"] for r in csv.DictReader(open(samples))] == ["CCCC"] * 3
    failed = tmp_path / "failed.csv"
    assert "neither an existing file" in _fails(
        ["sample", "--checkpoint", str(out), "--start", "nope!", "--out", str(failed)], capsys
    )
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
    assert f"cannot read pretrained checkpoint {not_one}: not a torch checkpoint" in _fails(
        ["sample", "--checkpoint", str(not_one)], capsys
    )
    weights = tmp_path / "weights.pt"
    torch.save({"weights": [1.0]}, weights)  # a torch file, but not from molgym pretrain
    assert "neither a molgym train directory" in _fails(["sample", "--checkpoint", str(weights)], capsys)


def test_sample_reads_an_unfinished_run_from_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", CHAIN, "--budget", "50", "--steps", "4", "--out", str(out)]) == 0
    for name in ("metrics.json", "agent.json", "counters.json"):  # as if stopped before the end: only the checkpoint
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
    assert (
        main(
            [
                "compare",
                "--agents",
                "random",
                "--budget",
                "4",
                "--seeds",
                "1",
                "--propose",
                "0",
                "--workers",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
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


# What a new user hit (issue 37), each found on a fresh clone --------------------------------------
def _unwritable_dir() -> str:
    """A directory that refuses new files even to root (a read-only or virtual file system)."""
    import tempfile

    for candidate in ("/sys", "/proc"):
        try:
            with tempfile.TemporaryFile(dir=candidate):
                pass
        except OSError:
            return candidate
    pytest.skip("no directory here refuses new files")


def test_commands_that_run_torch_take_threads_and_say_their_default(tmp_path, capsys):
    import os

    from molgym import set_threads

    for command in ("train", "sample", "pretrain", "rollout"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert f"--threads THREADS CPU threads for torch (default: one per core, {os.cpu_count()} here" in text
    try:
        assert main(["train", CHAIN, "--budget", "2", "--threads", "2", "--out", str(tmp_path / "t")]) == 0
        assert torch.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    finally:
        set_threads(1)
    assert "--threads: must be at least 1" in _fails(["rollout", "--threads", "0"], capsys)


def test_the_suite_runs_torch_on_one_thread():
    import os

    assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize(
    "make_argv, says",
    [
        pytest.param(
            lambda d: ["sample", "--checkpoint", "agents/gcpn/checkpoints/gcpn_moses.pt", "--out", str(d / "old.csv")],
            "old.csv already exists: choose another --out, or add --overwrite to replace it",
            id="sample-exists",
        ),
        pytest.param(
            lambda d: ["pretrain", "gcpn", "--out", str(d / "old.csv")], "already exists", id="pretrain-exists"
        ),
        pytest.param(
            lambda d: ["sample", "--checkpoint", "agents/gcpn/checkpoints/gcpn_moses.pt", "--out", str(d)],
            "is a directory: give a file name",
            id="sample-directory",
        ),
        pytest.param(
            lambda d: ["pretrain", "reinvent", "--out", str(d)],
            "is a directory: give a file name",
            id="pretrain-directory",
        ),
        pytest.param(
            lambda d: ["compare", "--agents", "random", "--out", str(d / "old.csv")],
            "is a file, not a directory",
            id="compare-file",
        ),
        pytest.param(
            lambda d: ["train", "random", "--out", str(d / "old.csv")], "is a file, not a directory", id="train-file"
        ),
        pytest.param(
            lambda d: ["rollout", "--out", str(d / "old.csv")], "is a file, not a directory", id="rollout-file"
        ),
        pytest.param(
            lambda d: ["rollout", "--out", str(d / "old.csv" / "sub")],
            "old.csv is a file, not a directory",
            id="rollout-under-a-file",
        ),
    ],
)
def test_output_paths_are_checked_before_any_work(make_argv, says, tmp_path, capsys):
    old = tmp_path / "old.csv"
    old.write_text("kept\n")
    assert main(make_argv(tmp_path)) == 2
    captured = capsys.readouterr()
    assert says in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "sampling" not in captured.out + captured.err and old.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv"]


@pytest.mark.parametrize("command", ["sample", "pretrain", "compare", "train", "rollout"])
def test_an_unwritable_output_path_is_refused_before_any_work(command, capsys):
    target = f"{_unwritable_dir()}/molgym-test/out"
    argv = {
        "sample": ["sample", "--checkpoint", "agents/gcpn/checkpoints/gcpn_moses.pt"],
        "pretrain": ["pretrain", "gcpn"],
        "compare": ["compare", "--agents", "random"],
        "train": ["train", "random"],
        "rollout": ["rollout"],
    }[command]
    line = _fails([*argv, "--out", target], capsys)
    assert line.startswith(f"molgym {command}: --out {target}: cannot write in ")


def test_sample_and_pretrain_replace_a_file_only_when_asked(tmp_path, capsys):
    samples = tmp_path / "s.csv"
    samples.write_text("old\n")
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                "agents/gcpn/checkpoints/gcpn_moses.pt",
                "-n",
                "3",
                "--out",
                str(samples),
                "--overwrite",
            ]
        )
        == 0
    )
    assert samples.read_text().startswith("smiles,qed\n") and len(samples.read_text().splitlines()) == 4
    assert not [p for p in tmp_path.iterdir() if p.name != "s.csv"]  # no temporary file left


def test_long_molecules_are_cut_in_messages(tmp_path, capsys):
    long = "C" * 400 + "("
    line = _fails(["train", "random", "--task", "constrained", "--start", long, "--out", str(tmp_path / "a")], capsys)
    assert "(401 characters)" in line and len(line) < 400
    starts = tmp_path / "starts.smi"
    starts.write_text("CCO\n" + "c1" * 5000 + "\n")
    line = _fails(
        ["train", "random", "--task", "constrained", "--start", str(starts), "--out", str(tmp_path / "b")], capsys
    )
    assert "(10000 characters)" in line and len(line) < 400


@pytest.mark.parametrize(
    "argv, says",
    [
        (["train", "random", "--device", "tpu"], "argument --device: expected cpu, cuda or cuda:N, got 'tpu'"),
        (["sample", "--checkpoint", "x", "--device", "cuda:x"], "argument --device: expected cpu, cuda or cuda:N"),
        (["compare", "--time-limit", "0"], "argument --time-limit: must be above 0, got 0"),
        (["compare", "--time-limit", "-5"], "argument --time-limit: must be above 0, got -5"),
    ],
)
def test_options_that_cannot_work_are_refused_up_front(argv, says, capsys):
    assert says in _fails(argv, capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused_with_the_reason(capsys):
    line = _fails(["sample", "--checkpoint", "agents/gcpn/checkpoints/gcpn_moses.pt", "--device", "cuda"], capsys)
    assert "argument --device: cuda: CUDA is not available on this machine" in line and "checkpoint" not in line


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda run: (run / "checkpoint" / "loop.json").write_text(""), "loop.json is empty"),
        (
            lambda run: (run / "checkpoint" / "oracle.pt").unlink(),
            "cannot read oracle checkpoint {run}/checkpoint/oracle.pt: no such file",
        ),
        (
            lambda run: (run / "checkpoint" / "agent.json").write_text('{"seed": '),
            "agent file {run}/checkpoint/agent.json is damaged: not valid JSON",
        ),
        (
            lambda run: (run / "checkpoint" / "oracle.pt").write_bytes(b"garbage"),
            "oracle.pt: not a torch checkpoint, or damaged (UnpicklingError",
        ),
        (lambda run: (run / "task.json").write_text("[]"), "run file {run}/task.json is damaged"),
    ],
)
def test_damaged_run_files_are_named_with_what_is_wrong(damage, says, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", CHAIN, "--budget", "50", "--steps", "3", "--out", str(run)]) == 0
    damage(run)
    assert says.format(run=run) in _fails(["train", CHAIN, "--out", str(run), "--resume", "--steps", "5"], capsys)


def test_sample_says_when_a_checkpoint_is_missing_or_garbage(tmp_path, capsys):
    assert _fails(["sample", "--checkpoint", str(tmp_path / "nothere.pt")], capsys) == (
        f"molgym sample: --checkpoint {tmp_path / 'nothere.pt'} does not exist"
    )
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"garbage")
    assert _fails(["sample", "--checkpoint", str(garbage)], capsys).startswith(
        f"molgym sample: cannot read pretrained checkpoint {garbage}: not a torch checkpoint, or damaged ("
    )


def test_reinvent_validity_counts_the_invalid_smiles_it_wrote(tmp_path, capsys):
    from molgym.metrics import validity_uniqueness_novelty
    from molgym.tasks import make_task
    from molgym_agents.reinvent import ReinventAgent

    proposed = ReinventAgent(make_task("qed"), seed=0).propose(200)
    validity = validity_uniqueness_novelty(proposed)["validity"]
    assert len(proposed) == 200 and 0.2 < validity < 0.95  # the shipped prior writes about 57% valid SMILES
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--agents",
                "reinvent",
                "--budget",
                "20",
                "--seeds",
                "1",
                "--propose",
                "100",
                "--workers",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "reinvent" / "seed0" / "result.json").read_text())["metrics"]["validity"] < 0.95


def test_argparse_errors_are_one_line(capsys):
    for argv in (["compare", "--budget", "x"], ["compare", "--no-such-option"], ["train"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "usage:" not in err and err.startswith("molgym ")
    assert main(["compare", "--budgett", "3"]) == 2
    assert capsys.readouterr().err.startswith("molgym compare: unrecognized arguments: --budgett 3 (see molgym compare")


def test_every_option_has_help():
    from molgym.cli import build_parser

    parser = build_parser()
    for name, command in parser.commands.items():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"molgym {name} {action.option_strings[0]} has no help text"


def test_the_custom_task_names_the_option_it_needs(capsys):
    assert _fails(["train", "random", "--task", "custom"], capsys) == (
        "molgym train: the custom task needs --reward module:function (a function of an RDKit molecule)"
    )


def test_envs_shows_each_reward_whole(capsys):
    import gymnasium as gym

    import molgym

    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in molgym.ENV_IDS:
        kwargs = {"start_smiles": "C"} if env_id == "MolOpt-v0" else {}
        assert repr(gym.make(env_id, **kwargs).unwrapped.reward) in out


def test_stereo_is_noted_once_by_sample(tmp_path, capsys):
    from molgym_agents.gcpn.agent import PRETRAINED

    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(PRETRAINED),
                "--task",
                "constrained",
                "--start",
                "C[C@H](N)O",
                "-n",
                "2",
                "--out",
                str(tmp_path / "s.csv"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().err.count("stereochemistry") == 1


def test_the_stereo_warning_points_at_the_callers_line():
    import gymnasium as gym

    from molgym.chem import StereoDropped

    env = gym.make("MolEdit-v0")
    with pytest.warns(StereoDropped) as record:
        env.reset(options={"smiles": "C[C@H](N)O"})
    assert record[0].filename == __file__
    with pytest.warns(StereoDropped) as record:
        gym.make("MolOpt-v0", start_smiles=["C[C@H](N)O"])
    assert record[0].filename == __file__


def test_the_train_progress_bar_ends_at_the_budget(tmp_path, capsys):
    # the first update spends the budget of 3 half-way (it wants 4 new molecules)
    assert main(["train", "tests.agents_for_tests:TricklingAgent", "--budget", "3", "--out", str(tmp_path / "t")]) == 0
    assert "3/3" in capsys.readouterr().err


def test_written_csv_files_end_lines_with_newline_alone(tmp_path):
    assert main(["rollout", "--episodes", "2", "--out", str(tmp_path / "r")]) == 0
    assert main(["train", CHAIN, "--budget", "3", "--out", str(tmp_path / "t")]) == 0
    assert main(["sample", "--checkpoint", str(tmp_path / "t"), "-n", "2", "--out", str(tmp_path / "s.csv")]) == 0
    assert (
        main(
            [
                "compare",
                "--agents",
                "random",
                "--budget",
                "3",
                "--seeds",
                "1",
                "--propose",
                "2",
                "--workers",
                "1",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    files = list(tmp_path.rglob("*.csv"))
    assert {f.name for f in files} >= {
        "molecules.csv",
        "log.csv",
        "oracle_log.csv",
        "s.csv",
        "results.csv",
        "proposed.csv",
    }
    for f in files:
        assert b"\r\n" not in f.read_bytes(), f


def test_picture_titles_are_readable(tmp_path):
    from molgym.pictures import molecule_grid

    molecule_grid(
        ["CCO", "c1ccccc1"],
        ["a", "b"],
        "random agent on MolEdit-v0: best 2 of 3 episodes by qed",
        tmp_path / "grid.png",
    )
    image = np.asarray(Image.open(tmp_path / "grid.png").convert("L"))
    header = image[:40]
    rows = np.flatnonzero((header < 128).any(axis=1))
    columns = np.flatnonzero((header < 128).any(axis=0))
    assert rows.size and rows.max() - rows.min() >= 11  # glyphs at least 12 px tall
    gaps = np.diff(columns)
    assert (gaps >= 4).sum() >= 9  # ten words, each space a visible gap
