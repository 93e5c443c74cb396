"""Kelery's checks, one nox session each; `uv run nox` runs the default set.

Every session syncs the locked workspace into its own venv with uv, so what is
checked is exactly what `uv.lock` pins.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests", "integration", "packaging"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))
SRC_DIRS = [str(p / "src") for p in PACKAGES]


def _sync(session: nox.Session, *groups: str) -> None:
    """Install the locked workspace (every member) plus `groups` into the session venv."""
    args = ["uv", "sync", "--frozen", "--all-packages", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    session.run_install(
        *args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}, silent=True
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check over the whole tree."""
    _sync(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Mypy strict over every package's src/."""
    _sync(session, "lint")
    session.run("mypy", *SRC_DIRS)


@nox.session
def tests(session: nox.Session) -> None:
    """Fast unit tests of every package (no broker)."""
    _sync(session, "test")
    session.run("pytest", "-m", "not integration", "-q", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Tests against a real Apache Kafka broker, real Celery workers, the fake Discord."""
    _sync(session, "test")
    session.run("pytest", "-m", "integration", "-v", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, each side by side with its comparison; writes BENCHMARKS.md."""
    _sync(session, "test")
    session.run("python", "-m", "kelery.devkit.bench", *session.posargs)


@nox.session
def packaging(session: nox.Session) -> None:
    """Build every wheel, install each alone with pip into a fresh venv, import it."""
    dist = Path(tempfile.mkdtemp(prefix="kelery-dist-"))
    for package in PACKAGES:
        session.run(
            "uv",
            "build",
            "--package",
            f"kelery-{package.name}",
            "--wheel",
            "-o",
            str(dist),
            external=True,
            silent=True,
        )
    session.log("built: %s", ", ".join(sorted(p.name for p in dist.glob("*.whl"))))
    for package in PACKAGES:
        name = f"kelery-{package.name}"
        module = "kelery." + package.name.replace("-", "_")
        venv = Path(tempfile.mkdtemp(prefix=f"{name}-venv-"))
        session.run(sys.executable, "-m", "venv", str(venv), external=True, silent=True)
        python = str(venv / "bin" / "python")
        # --find-links lets pip take sibling kelery-* wheels from dist/, the rest from PyPI,
        # exactly as `pip install kelery-<x>` would from the index.
        session.run(
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--find-links",
            str(dist),
            name,
            external=True,
            silent=True,
        )
        session.run(python, "-c", f"import {module}; print({module}.__name__, 'ok')", external=True)
        shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(dist, ignore_errors=True)
