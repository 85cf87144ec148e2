"""Peak memory of a process and every process it starts, together.

A sync forks: a process validates the usage file while the main one writes, and the scoring step scores in
worker processes. The largest single process (what `wait4` reports) then understates what the sync needs,
and adding up resident sizes overstates it (forked processes share pages until one writes them). The
proportional set size (PSS) counts each shared page once, split among the processes sharing it: summed
over the tree it is the memory the whole sync occupies. Linux only (/proc/PID/smaps_rollup); elsewhere
`TreeMemory.stop` returns None.
"""

from __future__ import annotations

import threading
from pathlib import Path

PROC = Path("/proc")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in (PROC / str(pid) / "task").iterdir():
            out.extend(int(c) for c in (task / "children").read_text().split())
    except OSError:
        pass
    return out


def _pss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pss_kib(pid: int) -> int:
    """PSS of `pid` and all its descendants, in KiB (0 when unreadable)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _pss_kib(p)
        todo.extend(_children(p))
    return total


class TreeMemory(threading.Thread):
    """Samples a process tree's summed PSS every `interval` seconds until `stop()`, which returns the highest in MiB."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(name="tree-memory", daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kib = 0
        self._stopped = threading.Event()

    def run(self) -> None:
        if not (PROC / "self" / "smaps_rollup").exists():
            return
        while not self._stopped.is_set():
            self.peak_kib = max(self.peak_kib, tree_pss_kib(self.pid))
            self._stopped.wait(self.interval)

    def stop(self) -> int | None:
        self._stopped.set()
        self.join()
        return self.peak_kib // 1024 if self.peak_kib else None
