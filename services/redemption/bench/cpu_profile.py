"""Where the redemption service spends its CPU on the hot path, sampled with py-spy while it serves
(carnet_local.profiling), as small tables printed by the benchmark:
- by stage: the process's work beside the requests (the outbox relay, the consumers), or for a request the
  code actually running (its innermost frame that a stage names: tracing, SQL, pydantic, the use case...);
- the hottest frames (leaves), for a closer look.
Only samples of the thread holding the GIL count (--gil: the event loop waiting in epoll does not); with
the CPU per redemption measured from /proc the shares become milliseconds per redemption.
"""

from __future__ import annotations

import re
from collections import Counter

from carnet_local.profiling import Profile, Sampling, any_frame, innermost

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
OTHERWISE = "asyncio event loop itself (and what no stage names)"


def sampling(pid: int) -> Sampling:
    """py-spy on the service process and its worker processes."""
    return Sampling(pid, rate=200, subprocesses=True)


def by_stage(profile: Profile) -> Counter[str]:
    return profile.shares(lambda frames: any_frame(BACKGROUND, frames) or innermost(REQUEST, frames),
                          otherwise=OTHERWISE)
