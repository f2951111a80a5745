"""The README's example outputs (metrics, cohorts, lifecycle segments) are what the commands
print on the demo shop the README names, at 80 columns: they cannot drift from the code.
`python docs/readme_examples.py` rewrites them after a change."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tool():
    spec = importlib.util.spec_from_file_location(
        "readme_examples", ROOT / "docs" / "readme_examples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_names_the_demo_its_examples_come_from(demo_settings):
    examples = tool()
    seed, today = demo_settings
    assert (seed, today) == (examples.DEMO_SEED, examples.DEMO_TODAY)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"retain demo demo --seed {seed} --today {today}" in text
    commands = [command for command, _ in examples.examples(text)]
    assert any(c.startswith("retain metrics ") for c in commands)
    assert any(c.startswith("retain cohorts ") for c in commands)
    assert any(c.startswith("retain segments --scheme lifecycle") for c in commands)


def test_readme_examples_are_what_the_commands_print(demo_folder, tmp_path):
    examples = tool()
    folder = tmp_path / "demo"
    shutil.copytree(demo_folder, folder)
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(examples.examples(text)) >= 4
    stale = [
        command
        for command, block in examples.examples(text)
        if examples.run(command, folder) != examples.normalise(block)
    ]
    assert stale == [], "stale README examples: run python docs/readme_examples.py"


def test_refresh_rewrites_only_the_example_blocks():
    examples = tool()
    text = (
        "intro\n<!-- example: retain metrics -->\n```\nold\n```\nmiddle\n```\nkept\n```\n"
        "<!-- example: retain cohorts --last 1 -->\n```\n```\n"
    )
    out = examples.refresh(text, lambda command: f"$ {command}\nnew\n")
    assert out == (
        "intro\n<!-- example: retain metrics -->\n```\n$ retain metrics\nnew\n```\nmiddle\n"
        "```\nkept\n```\n<!-- example: retain cohorts --last 1 -->\n```\n"
        "$ retain cohorts --last 1\nnew\n```\n"
    )
