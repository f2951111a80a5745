"""The README's example outputs, made from the demo shop so that they cannot drift.

A block of README.md preceded by ``<!-- example: retain ... -->`` holds ``$ retain ...`` and
what that command prints at 80 columns on the demo shop made with ``retain demo --seed 1
--today 2026-11-24`` (the README says so where the tour starts), at the moment
``RETAIN_NOW=2026-11-24T12:00:00Z``. This script rebuilds such a shop in a temporary folder,
runs every example command in it and writes their output into the README; with ``--check``
it changes nothing and exits 1 when a block is stale.
tests/test_readme_examples.py runs the same check.

    python docs/readme_examples.py           # rewrite the blocks
    python docs/readme_examples.py --check   # exit 1 if any block differs
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
DEMO_SEED = 1
DEMO_TODAY = "2026-11-24"
#: the moment the examples are run at (``RETAIN_NOW``), so that what depends on the clock
#: (plan, preview, feedback's window) reads the same every day
DEMO_NOW = "2026-11-24T12:00:00Z"
COLUMNS = 80

#: a marker, then a fenced block: the command is the marker's, the block its output
EXAMPLE = re.compile(
    r"(?P<marker><!-- example: (?P<command>retain [^\n]*?) -->\n)```\n(?P<body>.*?)```\n", re.S
)


def examples(text: str) -> list[tuple[str, str]]:
    """(command, block) of every example in ``text``, in order."""
    return [(m["command"], m["body"]) for m in EXAMPLE.finditer(text)]


def normalise(output: str) -> str:
    """Lines without trailing blanks (Rich pads centred titles), no trailing blank line."""
    return "\n".join(line.rstrip() for line in output.rstrip().splitlines()) + "\n"


@contextmanager
def _environment(folder: Path) -> Iterator[None]:
    saved_dir, saved_env = Path.cwd(), dict(os.environ)
    os.chdir(folder)
    os.environ.update(
        COLUMNS=str(COLUMNS),
        RETAIN_DB=str(folder / "retain.db"),
        RETAIN_NOW=DEMO_NOW,
    )
    # the folder's own campaigns.yaml and segments.yaml, named as the owner sees them
    os.environ.pop("RETAIN_CONFIG", None)
    os.environ.pop("RETAIN_SEGMENTS", None)
    try:
        yield
    finally:
        os.chdir(saved_dir)
        os.environ.clear()
        os.environ.update(saved_env)


def run(command: str, folder: Path) -> str:
    """``$ command`` and what it prints (stdout, then stderr) in ``folder`` at 80 columns."""
    import shlex

    from typer.testing import CliRunner

    from retain_cli.cli.main import app

    args = shlex.split(command)[1:]
    with _environment(folder):
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    if result.exit_code not in (0, 3):
        raise RuntimeError(f"{command!r} exited {result.exit_code}: {result.output}")
    return normalise(f"$ {command}\n{result.stdout}{result.stderr}")


def build_demo(folder: Path) -> Path:
    """The README's demo shop in ``folder`` (created): ``retain demo --seed 1 --today ...``."""
    from retain_cli.demo import run_demo

    run_demo(folder, seed=DEMO_SEED, today=date.fromisoformat(DEMO_TODAY))
    return folder


def refresh(text: str, render: Callable[[str], str]) -> str:
    """``text`` with every example block replaced by ``render(command)``."""

    def replace(match: re.Match[str]) -> str:
        return f"{match['marker']}```\n{render(match['command'])}```\n"

    return EXAMPLE.sub(replace, text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    text = README.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_demo(Path(tmp) / "demo")
        updated = refresh(text, lambda command: run(command, folder))
    if updated == text:
        print(f"{README.name}: {len(examples(text))} examples up to date")
        return 0
    if check:
        print(f"{README.name}: examples are stale; run python docs/readme_examples.py")
        return 1
    README.write_text(updated, encoding="utf-8")
    print(f"{README.name}: examples rewritten")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(README.parent))
    sys.exit(main(sys.argv[1:]))
