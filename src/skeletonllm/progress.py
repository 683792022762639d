"""Progress of a long step: a tqdm bar on a terminal, a plain line every so often in a log file.

    for sample in progress(samples, "teach synth", unit="sample"): ...
    with progress(total=size, desc="fetch synth.tar.gz", unit="B") as bar:
        bar.update(len(block))

Where stderr is a terminal this is tqdm. Elsewhere (Snakemake and SLURM logs, pipes) a tqdm bar becomes one
carriage-return line of many kilobytes, so `LineProgress` prints a line such as
``fetch synth.tar.gz: 40% (4.19MB/10.5MB), 1.05MB/s, 00:04`` each time another tenth is done or 30 s have
passed, and a last line when it closes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO

from tqdm import tqdm

EVERY_FRACTION = 0.1
EVERY_S = 30.0


def progress(iterable: Iterable | None = None, desc: str = "", *, total: float | None = None, unit: str = "it",
             disable: bool = False, stream: IO[str] | None = None):
    """A progress display over `iterable` (iterate it) or over `total` units (call update(n)); use it as a context
    manager or close() it. unit="B" counts bytes and scales them (kB, MB, GB). A tqdm on a terminal, else a
    LineProgress; `disable` shows nothing. stream: where to write (default sys.stderr)."""
    stream = stream or sys.stderr
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if stream.isatty():
        return tqdm(iterable, desc=desc, total=total, unit=unit, unit_scale=unit == "B", disable=disable, file=stream)
    return LineProgress(iterable, desc, total, unit, None if disable else stream)


class LineProgress:
    """tqdm's iterate / update / close interface, written as plain lines: one when another EVERY_FRACTION of the
    total is done or EVERY_S seconds have passed since the last line, and one at close. stream None prints nothing."""

    def __init__(self, iterable: Iterable | None, desc: str, total: float | None, unit: str, stream: IO[str] | None):
        self.iterable, self.desc, self.total, self.unit, self.stream = iterable, desc, total, unit, stream
        self.n = 0
        self.start = self.last_line = time.monotonic()
        self.step = 0  # tenths of the total already reported
        self.closed = False

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        """Count n more units; print a line when the next tenth is reached or EVERY_S seconds have passed."""
        self.n += n
        if self.total and self.n >= self.total:
            return  # close() says it is done
        step = int(self.n / self.total / EVERY_FRACTION) if self.total else 0
        now = time.monotonic()
        if step > self.step or now - self.last_line >= EVERY_S:
            self.step, self.last_line = step, now
            self._print(f"{100 * self.n / self.total:.0f}% ({self._amount(self.n, self.total)})" if self.total
                        else self._amount(self.n))

    def close(self) -> None:
        """Print the last line (done, amount, rate, time) once."""
        if not self.closed:
            self.closed = True
            self._print(f"done, {self._amount(self.n)}")

    def _amount(self, n: float, total: float | None = None) -> str:
        """n (of total) with the unit: bytes scaled (4.19MB/10.5MB), else counts (12/40 sample)."""
        if self.unit == "B":
            return "/".join(tqdm.format_sizeof(x, "B") for x in (n, total) if x is not None)
        return "/".join(f"{x:g}" for x in (n, total) if x is not None) + f" {self.unit}"

    def _print(self, state: str) -> None:
        """One line: description, state, rate and elapsed time."""
        if self.stream is None:
            return
        elapsed = time.monotonic() - self.start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        speed = tqdm.format_sizeof(rate, "B/s") if self.unit == "B" else f"{rate:.1f} {self.unit}/s"
        self.stream.write(f"{self.desc}: {state}, {speed}, {tqdm.format_interval(elapsed)}\n")
        self.stream.flush()
