"""The documentation site builds strictly, and documents every command and preset."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ticketlab.cli import build_parser
from ticketlab.config import PRESETS

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {"reference/config.md", "reference/cli.md"}


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )


def _written_docs() -> str:
    pages = [p for p in (ROOT / "docs").rglob("*.md") if "results" not in p.parts]
    return "\n".join(p.read_text() for p in pages) + (ROOT / "README.md").read_text()


def test_the_site_builds_strictly_with_the_generated_references(tmp_path: Path) -> None:
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    config = (tmp_path / "site" / "reference" / "config" / "index.html").read_text()
    assert "train.milestones" in config and "maxgroup.group_size" in config
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "ticketlab sweep status" in cli
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "list_runs" in api  # rendered from the docstrings


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs", symlinks=True)
    (copy / "docs" / "results").unlink()
    shutil.copytree(ROOT / "results", copy / "results")
    (copy / "docs" / "results").symlink_to("../results")
    shutil.copy(ROOT / "mkdocs.yml", copy)
    page = copy / "docs" / "guide" / "branches.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    done = _build(copy, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr


def _commands(parser, prefix=""):  # type: ignore[no-untyped-def]
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}"
                yield from _commands(sub, f"{prefix}{name} ")


@pytest.mark.parametrize("command", sorted(set(_commands(build_parser()))))
def test_every_command_is_documented_by_hand(command: str) -> None:
    assert re.search(rf"ticketlab {re.escape(command)}\b", _written_docs()), command


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_documented(name: str) -> None:
    assert f"`{name}`" in (ROOT / "docs" / "guide" / "presets.md").read_text()
