"""Find the jars of Apache Kafka 4.1.1: from ``$KAFKA_HOME`` or fetched once by Maven.

There is no Kafka distribution on our machines and no Docker, but Java and Maven are
there, and Maven Central holds every jar the broker needs. Maven resolves
``kafka_2.13`` with its runtime dependencies into a per-user cache, exactly once: a file
lock serialises concurrent test sessions, and a marker file written last means a half
download is never mistaken for a complete one.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kelery.devkit.kafka.errors import KafkaUnavailableError, missing_tool_message
from kelery.devkit.kafka.paths import cache_root

__all__ = [
    "KAFKA_VERSION",
    "KafkaJars",
    "kafka_version_in",
    "pom_xml",
    "resolve_jars",
]

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.24.3"
SLF4J_VERSION = "2.0.17"  # Kafka's own slf4j 1.x API finds no log4j2 binding: nothing logs.
MAVEN_TIMEOUT_S = 900.0

_MARKER = ".complete"
_VERSION_JARS = (
    re.compile(rf"^kafka_{re.escape(SCALA_VERSION)}-(?P<v>\d[^-]*(?:-[A-Za-z0-9]+)?)\.jar$"),
    re.compile(r"^kafka-server-(?P<v>\d[^-]*(?:-[A-Za-z0-9]+)?)\.jar$"),
    re.compile(r"^kafka-clients-(?P<v>\d[^-]*(?:-[A-Za-z0-9]+)?)\.jar$"),
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class KafkaJars:
    """A folder of jars that runs a broker, where it came from, and the Kafka version in it."""

    libs: Path
    version: str
    source: str

    @property
    def classpath(self) -> str:
        """The ``-cp`` value; the JVM expands ``libs/*`` itself, which keeps argv short."""
        return str(self.libs / "*")


def pom_xml(kafka_version: str = KAFKA_VERSION) -> str:
    """Return a throwaway POM whose runtime dependencies are exactly a runnable broker."""
    deps = [
        ("org.apache.kafka", f"kafka_{SCALA_VERSION}", kafka_version),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    body = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>dev.kelery</groupId><artifactId>kafka-runtime</artifactId>"
        "<version>1</version>\n"
        f"  <dependencies>\n{body}\n  </dependencies>\n"
        "</project>\n"
    )


def kafka_version_in(libs: Path) -> str | None:
    """Read the Kafka version off the jar names in `libs` (``kafka_2.13-4.1.1.jar``)."""
    names = sorted(p.name for p in libs.glob("*.jar"))
    for pattern in _VERSION_JARS:
        for name in names:
            if match := pattern.match(name):
                return match["v"]
    return None


def resolve_jars(
    env: Mapping[str, str] | None = None,
    *,
    kafka_version: str = KAFKA_VERSION,
    progress: Progress | None = None,
) -> KafkaJars:
    """Return the broker's jars, from ``$KAFKA_HOME/libs`` or the Maven-filled cache.

    Raises:
        KafkaUnavailableError: KAFKA_HOME holds no Kafka, Maven is missing, or Maven failed.
    """
    env = os.environ if env is None else env
    if kafka_home := env.get("KAFKA_HOME"):
        return _from_kafka_home(Path(kafka_home).expanduser())
    home = cache_root(env) / f"kafka-{kafka_version}"
    libs = home / "libs"
    if not (home / _MARKER).exists():
        with _locked(cache_root(env) / f"kafka-{kafka_version}.lock"):
            if not (home / _MARKER).exists():  # another process may have finished meanwhile
                _fetch_with_maven(home, kafka_version, progress, env.get("PATH"))
    version = kafka_version_in(libs) or kafka_version
    return KafkaJars(libs=libs, version=version, source=f"Maven cache {libs}")


def _from_kafka_home(kafka_home: Path) -> KafkaJars:
    libs = kafka_home / "libs"
    version = kafka_version_in(libs) if libs.is_dir() else None
    if version is None:
        msg = (
            f"KAFKA_HOME is set to {kafka_home}, but {libs} holds no Kafka jars "
            "(expected an unpacked Apache Kafka distribution with libs/kafka_2.13-*.jar). "
            "Fix KAFKA_HOME or unset it to let Kelery fetch Kafka with Maven."
        )
        raise KafkaUnavailableError(msg)
    return KafkaJars(libs=libs, version=version, source=f"KAFKA_HOME {kafka_home}")


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock so two sessions never run Maven into one folder."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_with_maven(
    home: Path, kafka_version: str, progress: Progress | None, search_path: str | None
) -> None:
    mvn = shutil.which("mvn", path=search_path)
    if mvn is None:
        raise KafkaUnavailableError(missing_tool_message("mvn"))
    if progress:
        progress(f"Fetching Apache Kafka {kafka_version} jars with Maven (first run only)")
    home.mkdir(parents=True, exist_ok=True)
    partial, libs = home / "libs.partial", home / "libs"
    shutil.rmtree(partial, ignore_errors=True)
    pom = home / "pom.xml"
    pom.write_text(pom_xml(kafka_version), encoding="utf-8")
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}",
        "-DincludeScope=runtime",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"Maven did not fetch the Kafka jars within {MAVEN_TIMEOUT_S:.0f} s: {command}"
        raise KafkaUnavailableError(msg) from exc
    if done.returncode != 0 or kafka_version_in(partial) is None:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        msg = (
            f"Maven could not fetch Apache Kafka {kafka_version} (exit {done.returncode}); "
            f"is Maven Central reachable? Or set KAFKA_HOME / KAFKA_BOOTSTRAP_SERVERS. "
            f"Command: {' '.join(command)}\n{tail}"
        )
        raise KafkaUnavailableError(msg)
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    (home / _MARKER).write_text(kafka_version + "\n", encoding="utf-8")
