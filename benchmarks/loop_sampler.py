"""`strategylab` with a sampling profiler of every thread, for benchmarks.

Run as `python benchmarks/loop_sampler.py OUT.txt serve --port N ...`: a daemon thread reads
every other thread's stack every SAMPLE_S and counts each (thread name, stack), innermost
frames first; at exit OUT.txt gets the TOP stacks by samples. A thread whose innermost frame
is a wait (select, lock, queue get) is idle; the others show where Python time goes, on the
event loop thread (MainThread; uvloop runs its loop in C, so an idle loop shows as
runners.py) and on the worker threads competing with it for the GIL. Profiling only: never
part of a normal start.
"""

from __future__ import annotations

import atexit
import collections
import sys
import threading
import time
import traceback
from pathlib import Path

SAMPLE_S = 0.01
TOP = 40
DEPTH = 14


def sample_forever(counts: collections.Counter[tuple[str, ...]], done: threading.Event) -> None:
    """Count every other thread's stack every SAMPLE_S (idle waits included) until `done`."""
    me = threading.get_ident()
    while not done.is_set():
        time.sleep(SAMPLE_S)
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        for ident, frame in sys._current_frames().items():
            if ident == me:
                continue
            stack = traceback.extract_stack(frame)[-DEPTH:]
            name = "".join(c for c in names.get(ident, "?") if not c.isdigit())
            frames = (f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
            counts[(f"[{name}]", *frames)] += 1


def write_report(
    path: Path, counts: collections.Counter[tuple[str, ...]], sampler: threading.Thread
) -> None:
    """The TOP stacks with their share of samples, and the leaf functions by share."""
    sampler.join()
    total = sum(counts.values()) or 1
    leaves: collections.Counter[str] = collections.Counter()
    for stack, count in counts.items():
        for frame in stack[1:4]:
            leaves[frame] += count
    lines = [
        f"samples: {total} every {SAMPLE_S * 1000:.0f} ms",
        "",
        "## frames (innermost 3 of each stack)",
    ]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in leaves.most_common(TOP)]
    lines += ["", "## stacks"]
    for stack, count in counts.most_common(TOP):
        lines.append(f"{count / total:6.1%}")
        lines += [f"    {frame}" for frame in stack]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["strategylab", *sys.argv[2:]]
    counts: collections.Counter[tuple[str, ...]] = collections.Counter()
    done = threading.Event()
    sampler = threading.Thread(target=sample_forever, args=(counts, done), daemon=True)
    sampler.start()
    atexit.register(write_report, out, counts, sampler)
    atexit.register(done.set)  # runs first: atexit calls in reverse order
    from app.cli import main as strategylab

    strategylab()


if __name__ == "__main__":
    main()
