"""The ``molgym`` command: listing environments and the random-agent rollout with its outputs."""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image
from rdkit import Chem

from molgym.cli import main


def test_envs_lists_every_registered_id(capsys):
    import molgym

    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    for env_id in molgym.ENV_IDS:
        assert env_id in out


def test_rollout_writes_molecules_and_a_picture(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["rollout", "--episodes", "6", "--seed", "1", "--top", "4", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "molecules.csv")))
    assert len(rows) == 6
    for row in rows:
        assert Chem.MolFromSmiles(row["smiles"]) is not None
        assert 0.0 <= float(row["qed"]) <= 1.0
        assert float(row["score"]) == float(row["qed"])
    image = Image.open(out / "top.png")
    assert image.size[0] >= 250 * 4
    printed = capsys.readouterr().out
    best = max(rows, key=lambda r: float(r["score"]))
    assert best["smiles"] in printed


def test_rollout_is_reproducible(tmp_path):
    for name in ("a", "b"):
        assert main(["rollout", "--episodes", "3", "--seed", "7", "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / "a" / "molecules.csv").read_text() == (tmp_path / "b" / "molecules.csv").read_text()


def test_rollout_from_start_molecules_in_a_file(tmp_path):
    starts = tmp_path / "starts.smi"
    starts.write_text("CCO\nc1ccccc1N\n")
    out = tmp_path / "opt"
    assert main(["rollout", "--env", "MolOpt-v0", "--start", str(starts), "--episodes", "2", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "molecules.csv")))
    assert "plogp_unnormalized_improvement" in rows[0]


def test_rollout_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert main(["rollout", "--env", "MolOpt-v0", "--out", str(tmp_path)]) == 2
    assert "needs start molecules" in capsys.readouterr().err
    assert main(["rollout", "--start", "C1CC", "--out", str(tmp_path)]) == 2
    assert (
        "--start 'C1CC' is neither an existing file, a dataset name (nci, zinc250k, moses) nor a valid SMILES "
        "(RDKit cannot parse it)"
    ) in capsys.readouterr().err
    assert main(["rollout", "--episodes", "0", "--out", str(tmp_path)]) == 2


def test_pretrain_gcpn_then_train_from_the_checkpoint(tmp_path, capsys):
    import torch

    smiles = tmp_path / "set.smi"
    smiles.write_text("CCO\nCC(=O)O\nc1ccccc1N\nCCN(C)C\nOCC(O)CO\n")
    ckpt = tmp_path / "gcpn.pt"
    argv = [
        "pretrain",
        "gcpn",
        "--data",
        str(smiles),
        "--epochs",
        "30",
        "--hidden",
        "32",
        "--rank",
        "8",
        "--batch-size",
        "32",
        "--lr",
        "0.003",
        "--out",
        str(ckpt),
    ]
    assert main(argv) == 0
    state = torch.load(ckpt, weights_only=False)
    assert state["molecules"] == 5 and state["losses"][-1] < 0.5 * state["losses"][0]
    assert state["command"].startswith("molgym pretrain gcpn --data")
    out = tmp_path / "trained"
    assert (
        main(
            [
                "train",
                "gcpn",
                "--budget",
                "10",
                "--out",
                str(out),
                "--config",
                f"init={ckpt}",
                "hidden=32",
                "rank=8",
                "num_envs=4",
                "num_steps=8",
                "minibatch_size=32",
            ]
        )
        == 0
    )
    assert (out / "gcpn.pt").is_file()
    assert main(["train", "gcpn", "--budget", "10", "--out", str(tmp_path / "other"), "--config", f"init={ckpt}"]) == 2
    assert "policy sizes" in capsys.readouterr().err
    assert main(["pretrain", "gcpn", "--data", str(tmp_path / "none.smi"), "--out", str(ckpt)]) == 2
    # molgym sample reads both what pretrain wrote and what train wrote
    for checkpoint, what in ((ckpt, "gcpn pretrained weights"), (out, "gcpn trained on qed")):
        samples = tmp_path / f"{Path(checkpoint).stem}.csv"
        assert main(["sample", "--checkpoint", str(checkpoint), "-n", "5", "--out", str(samples)]) == 0
        assert what in capsys.readouterr().out
        rows = list(csv.DictReader(open(samples)))
        assert len(rows) == 5 and all(Chem.MolFromSmiles(r["smiles"]) is not None for r in rows)
