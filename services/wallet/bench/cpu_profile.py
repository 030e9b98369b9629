"""Where a service process spends its CPU, sampled with py-spy while it works, as two small tables.

`Sampling(pid)` runs `py-spy record --format raw` on the process (not stopping it: --nonblocking) until
`stop()`; the collapsed stacks (one line per distinct stack: `frame;frame;... count`, root first) are then
read twice:
- by stage: the outermost part of Carnet's own path a sample is in (the handler, the runtime's dispatch,
  the outbox relay, ...): what the time is spent doing;
- by library: the innermost frame that belongs to a package (standard-library frames count for the
  package that called them): whose code burns it.
Only samples of the thread holding the GIL count (--gil: the event loop waiting in epoll does not), so the
shares are shares of the process's Python CPU.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

# (name, pattern on one frame "function (path:line)"): a sample belongs to the first stage of this list
# that any of its frames matches.
STAGES: list[tuple[str, re.Pattern[str]]] = [
    ("handler: the service's use case (domain, SQL, outbox row)",
     re.compile(r"/(wallet|enrolment|redemption|affiliation|notification)/consumers\.py")),
    ("runtime dispatch (envelope, inbox, transaction, retry)", re.compile(r"carnet_runtime/consumers\.py")),
    ("outbox relay (read rows, publish, mark sent)", re.compile(r"OutboxRelay\.")),
    ("FastStream consume loop and middlewares", re.compile(r"/(faststream|fast_depends)/")),
    ("Kafka producer sending (aiokafka)", re.compile(r"/aiokafka/producer/")),
    ("Kafka consumer fetching (aiokafka)", re.compile(r"/aiokafka/consumer/")),
    ("asyncpg pool (release: connection reset)", re.compile(r"/asyncpg/pool\.py")),
    ("tracing export (opentelemetry)", re.compile(r"/opentelemetry/")),
    ("HTTP (uvicorn, FastAPI)", re.compile(r"/(uvicorn/protocols|starlette|fastapi)/")),
    ("other Kafka client work", re.compile(r"/aiokafka/")),
    ("other runtime tasks (lag, purge, periodic)", re.compile(r"carnet_runtime/(lag|purge|retry)\.py")),
]

# (name, pattern on the frame's path), the innermost match wins.
LIBRARIES: list[tuple[str, re.Pattern[str]]] = [
    ("asyncpg", re.compile(r"/asyncpg/")),
    ("opentelemetry (tracing)", re.compile(r"/opentelemetry/")),
    ("prometheus_client", re.compile(r"/prometheus_client/")),
    ("FastStream, fast_depends", re.compile(r"/(faststream|fast_depends)/")),
    ("aiokafka", re.compile(r"/aiokafka/")),
    ("pydantic", re.compile(r"/pydantic(_core)?/")),
    ("tenacity", re.compile(r"/tenacity/")),
    ("cryptography", re.compile(r"/cryptography/")),
    ("carnet_runtime", re.compile(r"carnet_runtime/")),
    ("carnet_contracts", re.compile(r"carnet_contracts/")),
    ("the service's package", re.compile(r"/services/\w+/(wallet|enrolment|redemption|affiliation|notification)/")),
    ("uvicorn, starlette, FastAPI", re.compile(r"/(uvicorn|starlette|fastapi|anyio)/")),
]
EVENT_LOOP = "asyncio event loop itself"

_FRAME_PATH = re.compile(r"\(([^:()]+)(?::\d+)?\)\s*$")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed (uv sync: it is in the workspace's dev group)")
    return found


class Sampling:
    def __init__(self, pid: int, *, rate: int = 1000):
        self.output = Path(tempfile.mkdtemp(prefix="carnet-profile-")) / "stacks.txt"
        self.process = subprocess.Popen(
            [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking",
             "--gil", "--full-filenames",
             "--output", str(self.output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def stop(self) -> Profile:
        self.process.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        _, errors = self.process.communicate(timeout=60)
        if not self.output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {errors.decode(errors='replace')[-500:]}")
        return Profile.parse(self.output.read_text())


def _path(frame: str) -> str:
    found = _FRAME_PATH.search(frame)
    return found.group(1) if found else frame


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

    def by_stage(self) -> Counter[str]:
        shares: Counter[str] = Counter()
        for frames, n in self.stacks:
            stage = next((name for name, pattern in STAGES if any(pattern.search(frame) for frame in frames)),
                         EVENT_LOOP)
            shares[stage] += n
        return shares

    def by_library(self) -> Counter[str]:
        shares: Counter[str] = Counter()
        for frames, n in self.stacks:
            library = next((name for frame in reversed(frames) for name, pattern in LIBRARIES
                            if pattern.search(_path(frame))), EVENT_LOOP)
            shares[library] += n
        return shares

    def hottest(self, limit: int = 8) -> Counter[str]:
        """The frames with the most samples of their own (the leaf), for a closer look."""
        shares: Counter[str] = Counter()
        for frames, n in self.stacks:
            function, _, where = frames[-1].strip().partition(" (")
            shares[f"{function} ({where.rsplit('site-packages/', 1)[-1].rsplit('services/', 1)[-1]}"] += n
        return Counter(dict(shares.most_common(limit)))

    def table(self, title: str, shares: Counter[str], ms_per_item: float, *, indent: str = "      ") -> str:
        lines = [f"{indent}{title} ({self.samples} samples; ms of CPU per wallet)"]
        for name, n in shares.most_common():
            share = n / self.samples if self.samples else 0.0
            lines.append(f"{indent}  {share:6.1%}  {share * ms_per_item:5.2f} ms  {name}")
        return "\n".join(lines)
