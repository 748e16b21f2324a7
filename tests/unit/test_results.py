"""The results pages are made from the records under results/, not typed in."""

import json
import subprocess
import sys
from pathlib import Path

from ticketlab.analysis.width import markdown

ROOT = Path(__file__).parents[2]
# Intervals results/width.md's sentences quote (pp from the target), as the command's page
# prints them.
QUOTED_WIDTH = (
    "+0.38 [+0.05, +0.71]",
    "+0.50 [+0.19, +0.81]",
    "-0.90 [-1.24, -0.56]",
    "-2.83 [-3.23, -2.42]",
    "-0.81 [-1.45, -0.17]",
    "-1.03 [-1.82, -0.24]",
)


def made_by(script: str, *args: str) -> str:
    """What ``scripts/<script>.py`` prints from the records under results/."""
    run = [sys.executable, str(ROOT / f"scripts/{script}.py"), *args]
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


def test_the_width_page_is_what_its_rows_make() -> None:
    """results/width/width.md is the page `ticketlab width` writes from the rows beside it;
    the reading's tables in results/width.md are what scripts/width_reading.py makes of
    them, and the numbers its sentences quote are on the command's page."""
    folder = ROOT / "results/width"
    rows = json.loads((folder / "width.json").read_text())
    page = (folder / "width.md").read_text()
    preamble = page.split("\n")[2]  # "Made by `ticketlab width` into ...": the folder's name
    assert page == markdown(rows, preamble, figure=True)
    reading = (ROOT / "results/width.md").read_text()
    assert made_by("width_reading", str(folder)) in reading
    for quoted in QUOTED_WIDTH:
        assert quoted in " ".join(reading.split()) and quoted in page
