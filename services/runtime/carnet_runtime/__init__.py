"""What every Carnet service runs on."""

from .consumers import RetryLater
from .errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooManyRequests, Unauthenticated
from .service import Service, run
from .settings import ServiceSettings

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "Invalid",
    "NotFound",
    "RetryLater",
    "Service",
    "ServiceSettings",
    "TooManyRequests",
    "Unauthenticated",
    "run",
]
