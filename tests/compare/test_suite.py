"""`molgym compare --suite pmo`: per-task runs, the summed report beside the published figures, resumption."""

from __future__ import annotations

import json

from PIL import Image

from molgym.cli import main
from molgym.compare.suite import leaderboard


def test_the_pmo_suite_reports_each_task_the_sum_and_the_published_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOLGYM_DRD2_MODEL", str(tmp_path / "no_model_here.pkl"))  # drd2 cannot be had: skipped
    out = tmp_path / "suite"
    argv = [
        "compare",
        "--suite",
        "pmo",
        "--tasks",
        "qed,median1,isomers_c9h10n2o2pf2cl,drd2",
        "--agents",
        "random,tests.agents_for_tests:ListAgent",
        "--budget",
        "12",
        "--seeds",
        "2",
        "--propose",
        "3",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "# PMO suite: 3 tasks, budget 12 oracle calls, 2 seeds" in printed

    report = json.loads((out / "results.json").read_text())
    table = report["table"]
    assert list(table["rows"]) == ["qed", "median1", "isomers_c9h10n2o2pf2cl"] and "drd2" in report["skipped"]
    assert "no_model_here.pkl does not exist" in report["skipped"]["drd2"]
    for task in ("qed", "median1", "isomers_c9h10n2o2pf2cl"):
        per_task = json.loads((out / task / "results.json").read_text())
        auc = [r["metrics"]["auc_top10"] for r in per_task["runs"] if r["agent"] == "random"]
        assert table["rows"][task]["agents"]["random"][0] == sum(auc) / 2  # the suite reads the task's runs
    random_sum = table["sum"]["agents"]["random"]
    assert random_sum == sum(row["agents"]["random"][0] for row in table["rows"].values())
    assert table["rows"]["qed"]["published"]["REINVENT"] == leaderboard()["methods"]["REINVENT"]["tasks"]["qed"]
    ranks = table["rows"]["qed"]["ranks"]  # a 12-call random search ranks below every published method on QED
    assert ranks["Genetic GFN"] == 1 and ranks["REINVENT"] == 2 and ranks["random"] > ranks["MolDQN"]

    md = (out / "results.md").read_text()
    assert "| qed |" in md and "0.941 +- 0.000 (2)" in md and "**sum over 3 tasks**" in md and "REINVENT 14.196" in md
    assert f"Made by: `molgym {' '.join(argv)}`" in md and report["commands"] == [f"molgym {' '.join(argv)}"]
    assert "0.356 +- 0.009" in md  # REINVENT's published median1 figure with its spread
    assert table["sum"]["published"]["REINVENT"] == 0.941 + 0.356 + 0.642
    assert "Skipped tasks:" in md and "- drd2:" in md
    # a published figure made with another definition of the task says so, for that task only
    assert (
        "About the published figures:" in md and "- isomers_c9h10n2o2pf2cl: PMO's figures" in md and "- qed:" not in md
    )
    assert list(report["task_notes"]) == ["isomers_c9h10n2o2pf2cl"]
    assert Image.open(out / "curves.png").size[0] >= 800  # one panel per task

    before = (out / "median1" / "random" / "seed1" / "result.json").read_text()
    assert main(argv) == 0  # the same command resumes: finished runs are read, not redone
    assert (out / "median1" / "random" / "seed1" / "result.json").read_text() == before


def test_suite_input_errors_are_one_line(tmp_path, capsys):
    assert main(["compare", "--suite", "pmo", "--tasks", "qed,plogp", "--out", str(tmp_path)]) == 2
    assert "plogp not in the pmo suite" in capsys.readouterr().err


def test_the_published_per_task_figures_cover_the_suite_and_add_up_to_the_published_sums():
    from molgym.tasks import PMO_TASKS

    methods = leaderboard()["methods"]
    assert list(methods) == ["REINVENT", "Graph GA", "GFlowNet", "MolDQN", "Genetic GFN"]
    for method, figures in methods.items():
        assert set(figures["tasks"]) == set(PMO_TASKS) and set(figures.get("std", {})) <= set(figures["tasks"])
        # 23 three-decimal entries against the paper's own total
        assert abs(sum(figures["tasks"].values()) - figures["sum"]) < 0.015, method
    assert set(leaderboard()["task_notes"]) <= set(PMO_TASKS)


def test_an_agent_keeps_its_colour_in_every_panel_of_the_grid(tmp_path):
    """The suite's curves grid colours agents by one order over all tasks: an agent missing from one
    panel does not shift the others' colours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from molgym.compare.report import draw_curves
    from molgym.compare.runs import run_directory

    def run(agent: str, task: str) -> dict:
        directory = run_directory(tmp_path / task, agent, 0)
        directory.mkdir(parents=True)
        rows = "\n".join(f"{i},C{'C' * i},{i / 50}" for i in range(1, 51))
        (directory / "oracle_log.csv").write_text("call,smiles,score\n" + rows + "\n")
        return {"agent": agent, "seed": 0, "task": task, "budget": 50, "status": "ok"}

    by_task = {"one": [run("b", "one")], "two": [run("a", "two"), run("b", "two")]}
    agents = ["a", "b"]
    fig, axes = plt.subplots(1, 2)
    colours = {}
    for ax, (task, results) in zip(axes, by_task.items()):
        assert draw_curves(ax, results, tmp_path / task, 50, agents)
        for line in ax.get_lines():
            colours.setdefault(line.get_label().split(" (")[0], set()).add(line.get_color())
    plt.close(fig)
    assert colours["b"] == {"C1"} and colours["a"] == {"C0"}


def test_a_cell_with_fewer_finished_seeds_says_how_many_and_gives_no_spread(tmp_path):
    from molgym.compare.suite import write_suite_report

    def run(agent: str, seed: int, auc: float) -> dict:
        return {
            "agent": agent,
            "seed": seed,
            "task": "qed",
            "budget": 100,
            "status": "ok",
            "metrics": {"auc_top10": auc, "calls": 100},
        }

    by_task = {"qed": [run("a", 0, 0.5), run("a", 1, 0.7), run("b", 0, 0.4)]}
    write_suite_report(by_task, {}, tmp_path, budget=100, seeds=2, device="cpu", wall_time=1.0)
    row = next(line for line in (tmp_path / "results.md").read_text().splitlines() if line.startswith("| qed"))
    assert "| 0.600 +- 0.100 (" in row and "| 0.400, 1 seed (" in row
    assert (tmp_path / "results.md").read_text().startswith("# PMO suite: 1 task, budget 100 oracle calls, 2 seeds")
