"""Where a service's processes spend their CPU, sampled with py-spy while they work: the benchmarks'
profile tables (services/*/bench/cpu_profile.py say which stages they name).

`Sampling(pid)` runs `py-spy record --format raw` on a process (and, with `subprocesses`, its worker
processes), without stopping it (--nonblocking), until `stop()`; the collapsed stacks (one line per
distinct stack: `frame;frame;... count`, root first) then make a `Profile`, whose samples a benchmark
sorts into its own stages. Shares are shares of the processes' Python CPU; with the CPU per item measured
from /proc they become milliseconds per item.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

EVENT_LOOP = "asyncio event loop itself"
Stages = list[tuple[str, re.Pattern[str]]]

_FRAME_PATH = re.compile(r"\(([^:()]+)(?::\d+)?\)\s*$")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed (uv sync: it is in the workspace's dev group)")
    return found


def frame_path(frame: str) -> str:
    """The file of a frame `function (path:line)`."""
    found = _FRAME_PATH.search(frame)
    return found.group(1) if found else frame


def any_frame(stages: Stages, frames: list[str]) -> str | None:
    """The first stage of the list that any frame of the stack matches."""
    return next((name for name, pattern in stages if any(pattern.search(f) for f in frames)), None)


def innermost(stages: Stages, frames: list[str], *, on_path: bool = False) -> str | None:
    """The stage of the innermost frame that one of the stages matches (the first of the list it matches)."""
    return next((name for frame in reversed(frames) for name, pattern in stages
                 if pattern.search(frame_path(frame) if on_path else frame)), None)


class Sampling:
    def __init__(self, pid: int, *, rate: int = 200, subprocesses: bool = False):
        self.output = Path(tempfile.mkdtemp(prefix="carnet-profile-")) / "stacks.txt"
        self.process = subprocess.Popen(
            [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking",
             "--gil", "--full-filenames", "--output", str(self.output),
             *(["--subprocesses"] if subprocesses else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def stop(self) -> Profile:
        self.process.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        _, errors = self.process.communicate(timeout=60)
        if not self.output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {errors.decode(errors='replace')[-500:]}")
        return Profile.parse(self.output.read_text())


class Profile:
    def __init__(self, stacks: list[tuple[list[str], int]]):
        self.stacks = stacks
        self.samples = sum(n for _, n in stacks)

    @classmethod
    def parse(cls, text: str) -> Profile:
        stacks = []
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                frames = stack.split(";")
                # What runs the loop (python -m, run(), uvicorn, asyncio.run) is above every sample: drop it.
                loop = max((i for i, f in enumerate(frames) if "asyncio/runners.py" in f), default=-1)
                stacks.append((frames[loop + 1:] or frames[-1:], int(count)))
        return cls(stacks)

    @classmethod
    def merged(cls, profiles: list[Profile]) -> Profile:
        return cls([stack for profile in profiles for stack in profile.stacks])

    def shares(self, stage_of: Callable[[list[str]], str | None], *, otherwise: str = EVENT_LOOP) -> Counter[str]:
        """The samples by the stage `stage_of` names for their stack (`otherwise` when it names none)."""
        shares: Counter[str] = Counter()
        for frames, n in self.stacks:
            shares[stage_of(frames) or otherwise] += n
        return shares

    def hottest(self, limit: int = 10) -> Counter[str]:
        """The frames with the most samples of their own (the leaf), for a closer look."""
        shares: Counter[str] = Counter()
        for frames, n in self.stacks:
            function, _, where = frames[-1].strip().partition(" (")
            shares[f"{function} ({where.rsplit('site-packages/', 1)[-1].rsplit('services/', 1)[-1]}"] += n
        return Counter(dict(shares.most_common(limit)))

    def table(self, title: str, shares: Counter[str], ms_per_item: float, *, per: str,
              indent: str = "      ") -> str:
        lines = [f"{indent}{title} ({self.samples} samples; ms of CPU per {per})"]
        for name, n in shares.most_common():
            share = n / self.samples if self.samples else 0.0
            lines.append(f"{indent}  {share:6.1%}  {share * ms_per_item:5.2f} ms  {name}")
        return "\n".join(lines)
