"""Where the redemption service spends its CPU on the hot path, sampled with py-spy while it serves, as
small tables printed by the benchmark.

`Sampling(pid)` runs `py-spy record --format raw` on the service process and its worker processes
(--subprocesses; not stopping them: --nonblocking) until `stop()`; the collapsed stacks (one line per
distinct stack, `frame;frame;... count`, root first) are then read two ways:
- by stage: the process's work beside the requests (the outbox relay, the consumers), or for a request the
  code actually running (its innermost frame that a stage names: tracing, SQL, pydantic, the use case...);
- the hottest frames (leaves), for a closer look.
Only samples of the thread holding the GIL count (--gil: the event loop waiting in epoll does not), so the
shares are shares of the processes' Python CPU; with the CPU per redemption measured from /proc they
become milliseconds per redemption.
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

# Work beside the requests: a sample is there when any of its frames matches (first of the list).
BACKGROUND: list[tuple[str, re.Pattern[str]]] = [
    ("outbox relay (read rows, publish to Kafka, mark sent)", re.compile(r"OutboxRelay\.|/aiokafka/producer/")),
    ("Kafka consumers and other background tasks",
     re.compile(r"carnet_runtime/(consumers|lag|purge|retry)\.py|/(faststream|fast_depends)/|/aiokafka/")),
]
# A request's sample belongs to the INNERMOST frame that one of these matches (the first pattern of the list
# that frame matches): the library code actually running, so that tracing or SQL wrapped around a call is
# not counted as the call, nor the call as its wrapper. Standard-library frames count for their caller.
REQUEST: list[tuple[str, re.Pattern[str]]] = [
    ("tracing (opentelemetry spans)", re.compile(r"/opentelemetry/")),
    ("metrics (prometheus_client)", re.compile(r"/prometheus_client/")),
    ("SQL round trips (asyncpg: encode, send, decode, pool)", re.compile(r"/asyncpg/")),
    ("caller's token (verified once, remembered)",
     re.compile(r"redemption/api\.py.*(VerifiedTokens|_caller|principal|affiliate_id)|/jwt/")),
    ("pydantic models (request body, events, envelopes)", re.compile(r"/pydantic(_core)?/")),
    ("JSON (answer, kept answer, outbox envelope)", re.compile(r"/json/|orjson")),
    ("use case: code hash, domain, event, outbox row",
     re.compile(r"/services/redemption/redemption/|carnet_contracts/|carnet_runtime/outbox\.py")),
    ("FastAPI request handling (dependencies, routing)", re.compile(r"/fastapi/")),
    ("HTTP server (uvicorn, starlette, the runtime's middlewares)",
     re.compile(r"/(uvicorn|starlette|anyio|httptools)/|carnet_runtime/(http|service)\.py")),
]
EVENT_LOOP = "asyncio event loop itself (and what no stage names)"

_FRAME_PATH = re.compile(r"\(([^:()]+)(?::\d+)?\)\s*$")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed (uv sync: it is in the workspace's dev group)")
    return found


class Sampling:
    def __init__(self, pid: int, *, rate: int = 200):
        self.output = Path(tempfile.mkdtemp(prefix="carnet-profile-")) / "stacks.txt"
        self.process = subprocess.Popen(
            [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nonblocking",
             "--gil", "--subprocesses", "--full-filenames", "--output", str(self.output)],
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
            stage = next((name for name, pattern in BACKGROUND if any(pattern.search(f) for f in frames)), None)
            if stage is None:
                stage = next((name for frame in reversed(frames) for name, pattern in REQUEST
                              if pattern.search(frame)), EVENT_LOOP)
            shares[stage] += n
        return shares

    def hottest(self, limit: int = 10) -> Counter[str]:
        """The frames with the most samples of their own (the leaf)."""
        shares: Counter[str] = Counter()
        for frames, n in self.stacks:
            function, _, where = frames[-1].strip().partition(" (")
            shares[f"{function} ({where.rsplit('site-packages/', 1)[-1].rsplit('services/', 1)[-1]}"] += n
        return Counter(dict(shares.most_common(limit)))

    def table(self, title: str, shares: Counter[str], ms_per_item: float, *, indent: str = "      ") -> str:
        lines = [f"{indent}{title} ({self.samples} samples; ms of service CPU per redemption)"]
        for name, n in shares.most_common():
            share = n / self.samples if self.samples else 0.0
            lines.append(f"{indent}  {share:6.1%}  {share * ms_per_item:5.2f} ms  {name}")
        return "\n".join(lines)
