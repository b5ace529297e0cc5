"""Pages generated from the code and the committed results, so that none can drift from them.

On ``builder-inited`` this writes into ``docs/_generated/`` (not committed):

* ``env-<id>.md``: one page per registered environment id, from the registry (entry point,
  arguments, vector entry point) and the env class's docstring (Gymnasium's docstring sections);
* ``agent-<name>-settings.md``: each registered agent's settings and their defaults, from its
  constructor's signature, included by the agent's hand-written page ``agents/<name>.md``;
* ``benchmarks.md``: the index of ``benchmarks/README.md`` and each committed result table,
  rendered from its ``results.json`` by the code that wrote it (``molgym.compare.suite`` for the
  PMO suite, ``scripts/bench_gcpn.py`` for GCPN's paper tasks), with its command and curves, and
  the printed output of the speed benchmarks (``results.txt``).
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]

#: Constructor arguments every agent takes that are not its settings.
NOT_SETTINGS = ("self", "task", "seed", "device")


def _myst(docstring: str) -> str:
    """A docstring as MyST Markdown: ``:role:`x``` becomes ``{role}`x```."""
    return re.sub(r":(\w+(?::\w+)?):`", r"{\1}`", inspect.cleandoc(docstring or ""))


def env_pages(out: Path) -> None:
    import gymnasium as gym

    import molgym

    for env_id, cls in molgym.ENV_IDS.items():
        spec = gym.spec(env_id)
        vector = getattr(spec.vector_entry_point, "func", spec.vector_entry_point)
        vector_args = getattr(spec.vector_entry_point, "args", ())
        kwargs = ", ".join(f"`{k}={v!r}`" for k, v in spec.kwargs.items()) or "none"
        page = [
            f"# {env_id}",
            "",
            "| | |",
            "| --- | --- |",
            f"| entry point | `{spec.entry_point}` |",
            f"| vector entry point | `{vector.__module__}.{vector.__qualname__}` "
            f"({', '.join(f'`{a.__qualname__}`' for a in vector_args) or 'its own'}) |",
            f"| registered arguments | {kwargs} |",
            f"| make | `gym.make({env_id!r})`, `gym.make_vec({env_id!r}, num_envs=256)` |",
            "",
            _myst(cls.__doc__),
            "",
        ]
        (out / f"env-{env_id}.md").write_text("\n".join(page))


def agent_settings(out: Path) -> None:
    from molgym.agent import agent_class, registered_agents

    for name in registered_agents():
        cls = agent_class(name)
        parameters = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name not in NOT_SETTINGS]
        rows = [f"| `{p.name}` | `{p.default!r}` |" for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        table = ["| setting | default |", "| --- | --- |", *rows] if rows else ["This agent has no settings."]
        text = [
            f"Settings of `{name}` (`{cls.__module__}.{cls.__qualname__}`), each passed as "
            f"`--config key=value` to `molgym train {name}` and `molgym compare`:",
            "",
            *table,
            "",
            _myst(cls.__doc__),
            "",
        ]
        (out / f"agent-{name}-settings.md").write_text("\n".join(text))


def _gcpn_table(data: dict, folder: Path) -> list[str]:
    """``scripts/bench_gcpn.py``'s table of its ``results.json``; the runs committed before the
    script's current layout (2026-12-07) have fewer fields, and their ``results.md``, written by
    the same command from the same runs, stands in."""
    sys.path.insert(0, str(ROOT))
    from scripts.bench_gcpn import table

    tasks = [r["task"] for r in data["results"]]
    settings = data.get("settings") or {"agent": "gcpn", **data["args"]}  # "args": before --agent, GCPN's runs
    args = SimpleNamespace(**{"tasks": tasks, **settings, "command": data["command"]})
    try:
        return table(data["results"], args)
    except KeyError:
        return (folder / "results.md").read_text().splitlines()


def _folder_results(folder: Path) -> list[str]:
    """The result tables of one benchmark folder (its ``results.json`` files, sub-folders too)."""
    from molgym.compare.suite import suite_markdown

    lines = []
    for path in sorted(folder.rglob("results*.json"), key=lambda p: (len(p.parts), p)):
        data = json.loads(path.read_text())
        where = path.relative_to(ROOT) if path.name != "results.json" else path.parent.relative_to(ROOT)
        if "table" in data:
            body = suite_markdown(data)
        elif "results" in data and "args" in data:
            body = _gcpn_table(data, path.parent)
        elif "kills" in data:  # scripts/bench_faults.py
            body = [
                f"Made by: `{data['made_by']}`",
                "",
                f"{data['survived']} of {len(data['kills'])} kills survived (every output equal to an "
                "uninterrupted run's), in "
                f"{data['wall_time']:.0f} s. The commands killed (`OUT` a temporary directory):",
                "",
                *[f"- {name}: `{command}`" for name, command in data["commands"].items()],
            ]
        else:
            continue
        body = ["#### " + line.lstrip("# ") if line.startswith("# ") else line for line in body]
        lines += [f"### `{where}`", "", *body, ""]
        curves = path.parent / "curves.png"
        if curves.exists() and path.name == "results.json":
            lines += [f"![top-10 against oracle calls, {where}](/{Path('..') / where / 'curves.png'})", ""]
    return lines


def benchmarks_page(out: Path) -> None:
    index = (ROOT / "benchmarks" / "README.md").read_text()
    index = re.sub(r"\[([^]]+)\]\(([^)]+)\)", lambda m: f"{m.group(1)} (`benchmarks/{m.group(2)}`)", index)
    lines = [index.replace("# Benchmarks: committed results of full runs", "# Benchmarks", 1), ""]
    lines += ["## Result tables, from the committed results", ""]
    for folder in ("pmo", "gcpn", "faults"):
        lines += [f"## `benchmarks/{folder}/`", "", *_folder_results(ROOT / "benchmarks" / folder)]
    for folder in ("env", "ray_scoring"):  # speeds: the scripts' whole printed output
        output = (ROOT / "benchmarks" / folder / "results.txt").read_text().rstrip()
        lines += [f"## `benchmarks/{folder}/results.txt`", "", "```text", output, "```", ""]
    (out / "benchmarks.md").write_text("\n".join(lines))


def generate(app) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    env_pages(out)
    agent_settings(out)
    benchmarks_page(out)


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
