"""`python -m carnet_runtime.migrate <service>`: apply a service's migrations, then exit.

Kubernetes runs it as an init container, so a new version's schema is in place before the
version serves; the advisory lock of `db.apply_migrations` makes replicas starting together
apply each file once. It reads the service's settings (database URL) the way the service
does, from the composition root `<service>.app`, without building or starting the service:
that module names its migrations folder `MIGRATIONS` and imports its settings class.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType

from . import db
from .settings import ServiceSettings
from .telemetry import setup_logging

log = logging.getLogger("carnet_runtime.migrate")


def settings_class(module: ModuleType, service: str) -> type[ServiceSettings]:
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value.service_name == service:
            return value
    raise LookupError(f"{module.__name__} has no ServiceSettings subclass named {service!r}")


def migrations_folder(module: ModuleType) -> Path:
    folder = getattr(module, "MIGRATIONS", None)
    if folder is None:
        raise LookupError(f"{module.__name__} does not name its migrations folder (MIGRATIONS)")
    return Path(folder)


def database_settings(full: type[ServiceSettings]) -> ServiceSettings:
    """The service's settings as far as its database goes: migrating needs no key or secret."""
    only_database = type(f"{full.__name__}Database", (ServiceSettings,), {
        "model_config": full.model_config, "service_name": full.service_name, "__module__": __name__,
    })
    return only_database()


async def migrate_service(service: str, module_name: str | None = None) -> list[str]:
    module = importlib.import_module(module_name or f"{service}.app")
    settings = database_settings(settings_class(module, service))
    return await db.migrate(settings.dsn, migrations_folder(module), service=service)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carnet_runtime.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("service", help="the service's name, e.g. wallet")
    parser.add_argument("--module", help="its composition root (default: <service>.app)")
    args = parser.parse_args(argv)
    setup_logging(args.service)
    try:
        applied = asyncio.run(migrate_service(args.service, args.module))
    except Exception as exc:
        log.error("migrations failed", extra={"error": f"{type(exc).__name__}: {exc}"[:500]})
        return 1
    log.info("migrations up to date", extra={"applied_now": ",".join(applied) or "none"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
