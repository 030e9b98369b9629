"""The two shapes of background work every service has: try until it works, and do it every so often.

Retrying uses tenacity (exponential waits, capped); a periodic task survives its own failures
(the database or the broker away for a while) and tries again at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

T = TypeVar("T")
log = logging.getLogger(__name__)


async def retry(
    operation: Callable[[], Awaitable[T]],
    *,
    transient: tuple[type[BaseException], ...] = (Exception,),
    first_wait: float = 0.1,
    max_wait: float = 5.0,
    what: str = "operation",
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `operation` until it succeeds; after each transient failure wait longer (first_wait,
    doubling, at most max_wait). Any other exception, and cancellation, ends the retries."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        if on_retry is not None and error is not None:
            on_retry(error)
        log.warning("%s failed, retrying", what, extra={
            "error": type(error).__name__, "attempt": state.attempt_number,
            "wait_s": round(state.upcoming_sleep, 3)})

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(transient),
        wait=wait_exponential(multiplier=first_wait, min=first_wait, max=max_wait),
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await operation()
    raise AssertionError("unreachable: tenacity either returns or raises")


async def periodically(interval_seconds: float, operation: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run `operation` now and then every `interval_seconds` until cancelled; a failing run is
    logged (without its message, which may quote data) and the next tick tries again."""
    while True:
        try:
            await operation()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s postponed to the next tick", what, extra={"error": type(exc).__name__})
        await asyncio.sleep(interval_seconds)
