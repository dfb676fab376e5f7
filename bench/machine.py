"""The machine a benchmark ran on: CPU, RAM, Python, package versions, git commit, and its printout."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.constants import PACKAGES, ROOT
from bench.report import Report


def _proc_info(info: dict[str, Any]) -> None:
    """CPU model and RAM from /proc (Linux); left as they are elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = int(line.split()[1]) / 1024**2
    except OSError:
        pass


def _git() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
        return commit.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_1m_at_start": os.getloadavg()[0],
    }
    _proc_info(info)
    try:
        import joblib

        info["joblib_cpu_count"] = joblib.cpu_count()
    except ImportError:
        pass
    info["packages"] = {}
    for name in PACKAGES:
        try:
            info["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    info["git"] = _git()
    return info


def print_machine(report: Report, info: dict[str, Any]) -> None:
    report.print("Speed and scale benchmark")
    report.print("=========================")
    report.print(f"date        {info['date']}")
    report.print(f"cpu         {info['cpu_model']}")
    report.print(
        f"cores       {info['cores']} (usable {info['cores_usable']}, joblib {info.get('joblib_cpu_count')})"
    )
    report.print(f"ram         {info.get('ram_gib', float('nan')):.1f} GiB")
    report.print(f"python      {info['python']} on {info['platform']}")
    report.print("packages    " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    report.print(f"git         {info['git']}")
    report.print(f"load (1 min) at start: {info['load_1m_at_start']:.2f}")
    report.print()
