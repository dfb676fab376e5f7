"""Measuring subprocesses: wall, CPU, peak RSS (own and process tree), CPU pressure, waiting for quiet."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.constants import ROOT


def cpu_pressure_us() -> int | None:
    """Cumulative microseconds in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    match = re.search(r"total=(\d+)", first)
    return int(match.group(1)) if match else None


def cpu_busy_s() -> float | None:
    """Seconds of CPU the whole machine has spent busy since boot (all cores, /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


QUIET = {"max_wait_s": 0.0, "budget_s": 0.0, "threshold": 0.25}


def wait_for_quiet() -> float:
    """Wait until other work uses < threshold of the CPUs: at most max_wait_s, budget_s in all."""
    limit = min(QUIET["max_wait_s"], QUIET["budget_s"])
    if limit <= 0 or cpu_busy_s() is None:
        return 0.0
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    while time.perf_counter() - started < limit:
        before = cpu_busy_s() or 0.0
        time.sleep(1.0)
        if ((cpu_busy_s() or 0.0) - before) / cores < QUIET["threshold"]:
            break
    waited = time.perf_counter() - started
    QUIET["budget_s"] -= waited
    return waited


@dataclass
class Measured:
    """One subprocess: wall, CPU, peak memory, and how busy the machine was meanwhile."""

    cmd: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mib: float
    tree_rss_peak_mib: float
    load_before: float
    load_after: float
    cpu_pressure: float | None
    others_cpu: float | None = None
    waited_s: float = 0.0
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def _tree_rss_sampler(pid: int, stop: threading.Event, peak: list[float]) -> None:
    try:
        import psutil
    except ImportError:
        return
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        peak[0] = max(peak[0], total / 1024**2)
        stop.wait(0.2)


def _wait_sampled(cmd: list[str], cwd: Path, env: dict[str, str] | None, out: Any) -> tuple:
    """Start `cmd`, sample its tree's RSS until it exits: (returncode, rusage, wall s, tree peak MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    stop, peak = threading.Event(), [0.0]
    sampler = threading.Thread(target=_tree_rss_sampler, args=(proc.pid, stop, peak), daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    return proc.returncode, usage, wall, peak[0]


def run_measured(
    cmd: list[str],
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    quiet: bool = True,
) -> Measured:
    """Run a command to completion and account for it alone (os.wait4 on this child)."""
    waited = wait_for_quiet() if quiet else 0.0
    load_before = os.getloadavg()[0]
    psi_before = cpu_pressure_us()
    busy_before = cpu_busy_s()
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    try:
        returncode, usage, wall, tree_peak = _wait_sampled(cmd, cwd, env, out)
    finally:
        if log_path:
            out.close()
    psi_after = cpu_pressure_us()
    busy_after = cpu_busy_s()
    others = None
    if busy_before is not None and busy_after is not None and wall > 0:
        own = usage.ru_utime + usage.ru_stime
        others = max(0.0, (busy_after - busy_before - own) / (wall * (os.cpu_count() or 1)))
    pressure = None
    if psi_before is not None and psi_after is not None and wall > 0:
        pressure = (psi_after - psi_before) / 1e6 / wall
    return Measured(
        cmd=[str(c) for c in cmd],
        returncode=returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        maxrss_mib=usage.ru_maxrss / 1024,
        tree_rss_peak_mib=tree_peak,
        load_before=load_before,
        load_after=os.getloadavg()[0],
        cpu_pressure=pressure,
        others_cpu=others,
        waited_s=waited,
        log=str(log_path or ""),
    )


def check(m: Measured, what: str) -> Measured:
    """`m`, or exit the benchmark with the log's tail if the command failed."""
    if m.returncode != 0:
        tail = Path(m.log).read_text()[-3000:] if m.log and Path(m.log).exists() else ""
        raise SystemExit(f"benchmark: {what} failed with exit code {m.returncode}\n{tail}")
    return m
