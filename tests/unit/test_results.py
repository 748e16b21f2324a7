"""The results pages are made from the records under results/, not typed in."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def made_by(script: str) -> str:
    """What ``scripts/<script>.py`` prints from the records under results/."""
    run = [sys.executable, str(ROOT / f"scripts/{script}.py")]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout


def test_the_study_answers_page_is_what_its_script_makes_from_the_records() -> None:
    made = made_by("study_answers")
    assert made == (ROOT / "results/study-answers.md").read_text()
    # Numbers the study's page quotes are the generated ones.
    study = " ".join((ROOT / "results/study.md").read_text().split())
    for quoted in ("[+0.26, +0.36]", "[+8.21, +13.97]", "[-0.20, +0.26]", "92% [79%, 108%]"):
        assert quoted in study and quoted in made


def test_the_deciding_experiments_answers_page_is_what_its_script_makes() -> None:
    made = made_by("study2_answers")
    assert made == (ROOT / "results/study2-answers.md").read_text()
    study2 = " ".join((ROOT / "results/study2.md").read_text().split())
    for quoted in ("+1.63 [+0.77, +2.50]", "13% [5%, 26%]"):
        assert quoted in study2 and quoted in " ".join(made.split())
