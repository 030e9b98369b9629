"""Where the wallet process spends its CPU, sampled with py-spy while it consumes (carnet_local.profiling),
as small tables printed by the benchmark:
- by stage: the outermost part of Carnet's own path a sample is in (the handler, the runtime's dispatch,
  the outbox relay, ...): what the time is spent doing;
- by library: the innermost frame that belongs to a package (standard-library frames count for the
  package that called them): whose code burns it.
Only samples of the thread holding the GIL count (--gil: the event loop waiting in epoll does not), so the
shares are shares of the process's Python CPU.
"""

from __future__ import annotations

import re
from collections import Counter

from carnet_local.profiling import Profile, Sampling, any_frame, innermost

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


def sampling(pid: int) -> Sampling:
    return Sampling(pid, rate=1000)


def by_stage(profile: Profile) -> Counter[str]:
    return profile.shares(lambda frames: any_frame(STAGES, frames))


def by_library(profile: Profile) -> Counter[str]:
    return profile.shares(lambda frames: innermost(LIBRARIES, frames, on_path=True))
