"""How a season shows its progress: silent for the tests, a progress bar per phase for `carnet demo`."""

from __future__ import annotations

from typing import Any


class Phases:
    """How the season shows its progress; the silent default is what tests use."""

    def start(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def done(self, summary: str) -> None:
        pass


class RichPhases(Phases):
    """A progress bar per phase, and one summary line when a phase ends."""

    def __init__(self, console: Any):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.task: Any = None

    def __enter__(self) -> RichPhases:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, name: str, total: int) -> None:
        self.task = self.progress.add_task(name, total=max(total, 1))

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def done(self, summary: str) -> None:
        task = self.progress.tasks[-1]
        self.progress.update(self.task, completed=task.total)
        self.progress.console.print(f"  [dim]{summary}[/dim]", highlight=False)
