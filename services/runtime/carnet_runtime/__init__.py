"""What every Carnet service runs on."""

from .consumers import RetryLater
from .errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Refusal, TooManyRequests, Unauthenticated
from .errors import field_errors, invalid_fields
from .service import Service, run
from .settings import SecretKey, ServiceSettings, shared_setting
from .text import MultilineText, PlainText
from .uow import PostgresUnitOfWork, UnitOfWork

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "Invalid",
    "MultilineText",
    "NotFound",
    "PlainText",
    "PostgresUnitOfWork",
    "Refusal",
    "RetryLater",
    "SecretKey",
    "Service",
    "ServiceSettings",
    "TooManyRequests",
    "Unauthenticated",
    "UnitOfWork",
    "field_errors",
    "invalid_fields",
    "run",
    "shared_setting",
]
