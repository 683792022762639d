"""This process's memory as the benchmarks and training report it: its resident set now and at its peak, in MB."""

from __future__ import annotations

import resource
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def rss_mb() -> float:
    """Resident set of this process now, in MB (/proc/self/statm; the peak so far where there is none)."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_mb()
    return resident_pages * resource.getpagesize() / 2**20


def reset_peak_rss() -> bool:
    """Reset the process's peak resident set (and so ru_maxrss) to its current one: Linux's clear_refs "5". False
    where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
