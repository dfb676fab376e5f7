"""Signs of life during long work: a tqdm bar on a terminal, a heartbeat log line otherwise."""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0  # never longer than this without a line when stderr is not a terminal


class Progress:
    """One long phase: `with Progress("search", total=13) as p: ... p.advance("ridge")`.

    On a terminal a tqdm bar (counted when `total` is known, elapsed time otherwise) refreshed every
    second; elsewhere a log line every `interval` seconds saying how far the phase has got.
    """

    def __init__(
        self,
        what: str,
        total: int | None = None,
        interval: float = HEARTBEAT_SECONDS,
        tty: bool | None = None,
    ) -> None:
        self.what, self.total, self.interval = what, total, interval
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.done, self.last = 0, ""
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"progress {what}", daemon=True)
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.tty:
            from tqdm import tqdm

            # explicit disable=False: quiet_libraries sets TQDM_DISABLE for the libraries' own bars
            self._bar = tqdm(
                total=self.total, desc=self.what, file=sys.stderr, leave=False, disable=False, mininterval=0
            )
        self._thread.start()
        return self

    def advance(self, note: str = "") -> None:
        """One more unit of the phase is done (`note`: what it was)."""
        self.done += 1
        self.last = note
        if self._bar is not None:
            self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(1)

    def status(self) -> str:
        """How far the phase has got, in words."""
        counted = f"{self.done}/{self.total} done, " if self.total else ""
        last = f"last: {self.last}, " if self.last else ""
        return f"{self.what}: {counted}{last}{time.monotonic() - self.started:.0f} s so far"

    def _beat(self) -> None:
        while not self._stop.wait(1.0 if self.tty else self.interval):
            if self._bar is not None:
                self._bar.refresh()
            else:
                log.info("... %s", self.status())

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        if self._bar is not None:
            self._bar.close()
