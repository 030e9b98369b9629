"""The local SMTP capture: every e-mail received is written as one `.eml` file under a folder, as it
was received (bytes untouched). It offers SMTPUTF8 (RFC 6531), as a real relay does, so that an
address such as élodie.durand@example.fr is delivered and can be checked."""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller

_counter = itertools.count(1)
_lock = threading.Lock()


class MailFolder:
    """aiosmtpd handler: one .eml per received message, named so that `ls` lists them in arrival order."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        with _lock:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            name = f"{stamp}-{next(_counter):06d}.eml"
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        temporary = self.directory / f".{name}.part"
        temporary.write_bytes(content)
        temporary.rename(self.directory / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def start_capture(directory: Path, port: int, host: str = "127.0.0.1", *, smtputf8: bool = True) -> Controller:
    """The capture on host:port; `smtputf8=False` gives a server that does not offer it (tests)."""
    controller = Controller(MailFolder(directory), hostname=host, port=port, data_size_limit=25 * 1024 * 1024,
                            enable_SMTPUTF8=smtputf8)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description="Carnet's local SMTP capture")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    controller = start_capture(args.dir, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"SMTP capture on 127.0.0.1:{args.port}, writing to {args.dir}", flush=True)
    while not stop.is_set():
        time.sleep(0.2)
    controller.stop()


if __name__ == "__main__":
    main()
