"""The captured e-mails (one .eml file each, written by the local SMTP capture), read as a person
reads their inbox."""

from __future__ import annotations

import asyncio
import email
import re
import time
from email import policy
from pathlib import Path

from ..endpoints import ToolError


class Mailbox:
    def __init__(self, directory: Path):
        self.directory = directory
        self._seen: dict[str, tuple[str, str, str]] = {}

    def _scan(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.eml")):
            if path.name in self._seen:
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            body = message.get_body(preferencelist=("plain",))
            self._seen[path.name] = (str(message["To"]), str(message["Subject"]), body.get_content() if body else "")

    async def find(self, recipient: str, subject: str, pattern: str, timeout: float) -> str:
        """The first group of `pattern` in the latest e-mail to `recipient` whose subject holds `subject`."""
        deadline = time.monotonic() + timeout
        while True:
            self._scan()
            for to, subj, body in reversed(list(self._seen.values())):
                if recipient in to and subject in subj:
                    found = re.search(pattern, body)
                    if found:
                        return found.group(1)
            if time.monotonic() > deadline:
                raise ToolError(f"no e-mail « {subject} » reached {recipient} within {timeout:.0f} s (mail folder {self.directory})")
            await asyncio.sleep(0.3)
