"""The wheel installs into a fresh environment and its command works there; it holds the
package only (no tests, results or data)."""

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_wheel_installs_and_runs_in_a_fresh_environment(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # Nothing of the checkout on any path: ticketlab must come from the wheel.
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        env=clean,
    )
    (wheel,) = dist.glob("ticketlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("ticketlab/", "ticketlab-")) for n in names), names
    assert "ticketlab/config/schema.py" in names

    # A fresh environment with the wheel installed into it.
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, env=clean)
    python = env / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=clean,
    ).stdout.strip()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        env=clean,
    )
    # Then the test environment's packages (torch, numpy, ...) through a .pth file, so that
    # nothing is downloaded (added after the install: pip would take the editable install
    # it sees there for this one).
    (Path(site) / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run = dict(cwd=tmp_path, capture_output=True, text=True, env=clean)
    where = subprocess.run([python, "-c", "import ticketlab; print(ticketlab.__file__)"], **run)
    assert where.stdout.startswith(site), where.stdout + where.stderr
    version = subprocess.run([env / "bin" / "ticketlab", "--version"], **run)
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version.returncode == 0 and version.stdout.strip() == f"ticketlab {expected}"
    config = subprocess.run([env / "bin" / "ticketlab", "config", "--preset", "quick"], **run)
    assert config.returncode == 0, config.stderr
    assert "name: quick" in config.stdout and "train_subset: 20000" in config.stdout
