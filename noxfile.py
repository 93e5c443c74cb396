"""Kelery's checks, one nox session each; `uv run nox` runs the default set.

Every session syncs the locked workspace into its own venv with uv, so what is
checked is exactly what `uv.lock` pins.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
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
    """Run every packages/*/bench/bench_*.py against one broker; write BENCHMARKS.md.

    Each script measures its subject and its comparison side by side in the same
    run and writes a markdown fragment; this session only starts the broker,
    runs them, and stitches the fragments under a header describing the machine.
    Pass script name fragments as posargs to run a subset (``nox -s bench -- produce``).
    BENCHMARKS.md promises every section from one run, so only a complete run (all
    scripts, none failed) writes it; a subset or a run with a failed script is
    written to the run's temporary folder instead, and the session says where.
    """
    _sync(session, "test", "bench")
    scripts = sorted(ROOT.glob("packages/*/bench/bench_*.py"))
    if session.posargs:
        scripts = [s for s in scripts if any(arg in s.stem for arg in session.posargs)]
    out_dir = Path(tempfile.mkdtemp(prefix="kelery-bench-"))
    bootstrap = os.environ.get("KELERY_BENCH_KAFKA")
    broker = "the cluster in KELERY_BENCH_KAFKA (version not reported over the protocol)"
    started = bootstrap is None
    state: list[str] = []
    ram_dir: Path | None = None
    if bootstrap is None:
        # A state folder of its own, so a developer's `kelery-dev kafka up` is left alone.
        state_dir, where, ram_dir = _bench_broker_dir(out_dir)
        state = ["--state-dir", str(state_dir)]
        output = session.run(
            "kelery-dev",
            "kafka",
            *state,
            "up",
            "--detach",
            "--port",
            "0",
            "--heap",
            "1g",
            silent=True,
        )
        match = re.search(r"Apache Kafka (\S+) ready .* at (127\.0\.0\.1:\d+)", str(output))
        if match is None:
            session.error(f"could not read the broker address from: {output}")
        broker = (
            f"Apache Kafka {match.group(1)}, a local KRaft broker started for this run, {where}"
        )
        bootstrap = match.group(2)
    failed: list[str] = []
    try:
        for script in scripts:
            try:
                session.run(
                    "python",
                    str(script),
                    "--out",
                    str(out_dir / f"{script.stem}.md"),
                    env={"KELERY_BENCH_KAFKA": bootstrap},
                )
            except nox.command.CommandFailed:
                failed.append(script.stem)
    finally:
        if started:
            session.run("kelery-dev", "kafka", *state, "down", success_codes=[0, 1])
        if ram_dir is not None:
            if failed:  # its broker.log may say why
                session.warn(f"the broker's folder is kept, in memory: {ram_dir}")
            else:
                shutil.rmtree(ram_dir, ignore_errors=True)
    fragments = [
        (out_dir / f"{script.stem}.md").read_text(encoding="utf-8")
        for script in scripts
        if (out_dir / f"{script.stem}.md").is_file()
    ]
    header = _bench_header(session, f"{broker}, at {bootstrap}")
    complete = not session.posargs and not failed
    target = ROOT / "BENCHMARKS.md" if complete else out_dir / "BENCHMARKS.md"
    target.write_text(header + "\n\n".join(fragments) + "\n", encoding="utf-8")
    session.log("wrote %s (%d sections)", target, len(fragments))
    if failed:
        session.error(f"benchmark scripts failed: {', '.join(failed)}")


RAM_DIR = Path("/dev/shm")  # noqa: S108 - a tmpfs; the folder in it comes from mkdtemp
RAM_DIR_MIN_FREE = 4 * 1024**3


def _is_tmpfs(path: Path) -> bool:
    mounts = Path("/proc/mounts")
    if not mounts.is_file():
        return False
    for line in mounts.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[1] == str(path) and fields[2] == "tmpfs":
            return True
    return False


def _bench_broker_dir(out_dir: Path) -> tuple[Path, str, Path | None]:
    """The bench broker's state folder, how the header says where, and a RAM folder to remove.

    On tmpfs when there is one with room, because the benchmarks time fresh topics:
    Kafka writes a partition's first offset-index entry after its first 4 KiB
    (``log.index.interval.bytes``), into index files it creates sparse and maps into
    memory. On this project's ext4 VM, that produce (each partition's fifth 1.1 KB
    task) took up to 82 ms to be answered, the others 0.2 to 0.6 ms: twelve stalls
    for a fresh 12-partition task queue, one for kombu's one-partition queue, within
    the chat benchmark's first minute. With the data on tmpfs, the slowest produce
    of the same benchmark took 1.6 ms.
    ``KELERY_BENCH_BROKER_DIR`` names another folder (a disk, to see that cost).
    """
    chosen = os.environ.get("KELERY_BENCH_BROKER_DIR")
    if chosen:
        return Path(chosen), f"its data in {chosen}", None
    if _is_tmpfs(RAM_DIR) and shutil.disk_usage(RAM_DIR).free >= RAM_DIR_MIN_FREE:
        ram = Path(tempfile.mkdtemp(prefix="kelery-bench-kafka-", dir=RAM_DIR))
        return ram, f"its data on tmpfs ({RAM_DIR})", ram
    return out_dir / "kafka", "its data on disk (no tmpfs with 4 GiB free)", None


def _bench_header(session: nox.Session, broker: str) -> str:
    """What the numbers below were measured on: date, CPU, memory, Python, broker."""
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        mem_kib = int(meminfo.read_text().split()[1])
    python = str(session.run("python", "-VV", silent=True)).strip()
    return (
        "# Benchmarks\n\n"
        "Written by `nox -s bench`; every figure below was measured in the run that wrote\n"
        "this file, each beside its comparison, on the machine described here.\n\n"
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- machine: {os.cpu_count()} cores ({cpu}), {mem_kib / 1024 / 1024:.1f} GiB memory\n"
        f"- python: {python}\n"
        f"- broker: {broker}\n\n"
    )


_IMPORT_ALL = """
import importlib, pkgutil, {module} as package
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
         if not m.name.endswith(".__main__")]  # a __main__ runs the program on import
for name in names:
    importlib.import_module(name)
print(package.__name__, "installs alone; imported", len(names) + 1, "modules")
"""


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
        # uv's venv with pip seeded: no dependency on Debian's python3-venv/ensurepip.
        session.run(
            "uv",
            "venv",
            "--seed",
            "--python",
            sys.executable,
            str(venv),
            external=True,
            silent=True,
        )
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
        # Import every module, not just the package: proves each import is declared.
        session.run(python, "-c", _IMPORT_ALL.format(module=module), external=True)
        shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(dist, ignore_errors=True)
