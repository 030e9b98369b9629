"""`carnet`: run the local stack and get local tokens."""

from __future__ import annotations

import signal
import time

import typer
from rich.console import Console
from rich.table import Table

from .config import StackConfig, ensure_keys, local_token
from .processes import StackError, pid_alive
from . import stack as local_stack

app = typer.Typer(help="Carnet, the youth activity pass: local stack and tools.", no_args_is_help=True)
stack_app = typer.Typer(help="Start, stop and inspect the local stack.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
console = Console()
errors = Console(stderr=True)


def _fail(message: str) -> None:
    errors.print(f"carnet: {message}", style="bold red", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@stack_app.command("up")
def stack_up(
    foreground: bool = typer.Option(False, "--foreground", help="Stay attached; Ctrl-C stops everything."),
    brokers: int = typer.Option(1, "--brokers", help="Kafka brokers: 1, or 3 as in production (KRaft, replication 3, "
                                                     "min.insync.replicas 2; brokers on 9092, 9094, 9096)"),
) -> None:
    """Start PostgreSQL, Kafka, the SMTP capture and every service; return once all are ready.
    What already runs is kept: with everything up, it says so; with a piece down, it starts that piece."""
    config = StackConfig.from_env()
    try:
        components = local_stack.up(config, say=lambda line: console.print(line, highlight=False), brokers=brokers)
    except StackError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; everything started was stopped")
    if not foreground:
        return
    console.print("Attached: Ctrl-C stops the stack.")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        dead = [c.name for c in components if not pid_alive(c.pid)]
        if dead:
            errors.print(f"carnet: {', '.join(dead)} stopped unexpectedly (see {config.log_dir}); stopping the stack")
            break
        time.sleep(0.5)
    local_stack.down(config, say=lambda line: console.print(line))


@stack_app.command("down")
def stack_down() -> None:
    """Stop everything `carnet stack up` started."""
    local_stack.down(StackConfig.from_env(), say=lambda line: console.print(line))


@stack_app.command("status")
def stack_status() -> None:
    """Each component of the local stack and its state."""
    rows = local_stack.status(StackConfig.from_env())
    if not rows:
        console.print("The stack is not running.")
        raise typer.Exit(3)
    table = Table("component", "pid", "port", "state")
    for row in rows:
        table.add_row(row["name"], str(row["pid"]), str(row["port"]), row["state"])
    console.print(table)
    if any(row["state"] not in ("ready", "running") for row in rows):
        raise typer.Exit(1)


@app.command("token")
def token(
    role: str = typer.Option(..., "--role", help="family, correspondent, affiliate or admin"),
    school_id: str = typer.Option(None, "--school-id", help="the correspondent's school"),
    affiliate_id: str = typer.Option(None, "--affiliate-id", help="the affiliate's organisation"),
    sub: str = typer.Option(None, "--sub", help="the subject (defaults to a name derived from the role)"),
    ttl: int = typer.Option(8 * 3600, "--ttl", help="lifetime in seconds"),
) -> None:
    """Print a signed access token for local use, for all five services."""
    if role not in ("family", "correspondent", "affiliate", "admin"):
        _fail(f"unknown role {role!r}: family, correspondent, affiliate or admin")
    if role == "correspondent" and not school_id:
        _fail("a correspondent token needs --school-id")
    if role == "affiliate" and not affiliate_id:
        _fail("an affiliate token needs --affiliate-id")
    config = StackConfig.from_env()
    ensure_keys(config.keys_dir)
    subject = sub or {"family": "family-local", "correspondent": f"correspondent-{school_id}",
                      "affiliate": f"affiliate-{affiliate_id}", "admin": "admin-local"}[role]
    # Affiliate tokens are the affiliation service's to sign; the others are the gateways'.
    print(local_token(config.keys_dir, role, sub=subject, school_id=school_id, affiliate_id=affiliate_id,
                      ttl_seconds=ttl))


@app.command("demo")
def demo(
    families: int = typer.Option(200, "--families", min=4, help="families who apply online (some are refused; "
                                                                "one more is entered on paper by its school)"),
    schools: int = typer.Option(4, "--schools", min=1, help="schools (collèges)"),
    affiliates: int = typer.Option(6, "--affiliates", min=1, help="organisations that join and sign the convention"),
    seed: int = typer.Option(2014, "--seed", help="same seed, same season"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for each asynchronous effect"),
) -> None:
    """Run a whole campaign season against the running local stack (`carnet stack up`)."""
    import asyncio

    from .endpoints import Endpoints, ToolError
    from .season import RichPhases, Season, SeasonSize

    size = SeasonSize(families=families, schools=schools, affiliates=affiliates, seed=seed)
    try:
        with RichPhases(console) as phases:
            outcome = asyncio.run(Season(Endpoints.local(), size, phases=phases, timeout=timeout).run())
    except ToolError as exc:
        _fail(str(exc))
    console.print(f"Campagne [bold]{outcome.campaign_id}[/bold] jouée. Le bilan : "
                  f"uv run carnet report --campaign-id {outcome.campaign_id}", highlight=False)


@app.command("report")
def report(
    campaign_id: str = typer.Option(None, "--campaign-id", help="the campaign (default: the latest opened)"),
    as_of: str = typer.Option(None, "--as-of", help="the day (YYYY-MM-DD, Europe/Paris) the committed budget is "
                                                    "counted at the end of (default: today)"),
    output: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """The campaign's figures as the département presents them, and the budget still committed as of a
    day, gathered from the services' figures APIs; says whether every cent credited is in exactly one
    part (outstanding, expired unspent, pending, in payment, reimbursed)."""
    import asyncio
    from datetime import date

    from . import report as figures
    from .endpoints import Endpoints, ToolError

    if output not in ("table", "csv", "json"):
        _fail(f"unknown format {output!r}: table, csv or json")
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        _fail(f"--as-of {as_of!r} is not a day written YYYY-MM-DD")
    config = StackConfig.from_env()
    ensure_keys(config.keys_dir)
    admin = local_token(config.keys_dir, "admin", sub="admin-report", ttl_seconds=600)
    try:
        found = asyncio.run(figures.gather(Endpoints.local(), {"Authorization": f"Bearer {admin}"}, campaign_id, day))
    except ToolError as exc:
        _fail(str(exc))
    if output == "table":
        console.print(figures.as_table(found))
    else:
        print(figures.as_csv(found) if output == "csv" else figures.as_json(found), end="" if output == "csv" else "\n")
    if not found["committed"]["holds"]:
        errors.print(f"carnet: {found['committed']['verdict']}", style="bold red", highlight=False, soft_wrap=True)
        raise typer.Exit(2)  # the figures are printed, and they do not add up


privacy_app = typer.Typer(help="A family's rights: what Carnet holds about a guardian.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("export")
def privacy_export(email: str = typer.Option(..., "--email", help="the guardian's e-mail address")) -> None:
    """Print, as one JSON document, what every service holds about the guardian with this address."""
    import asyncio
    import json

    from .endpoints import Endpoints, ToolError
    from .privacy import export

    config = StackConfig.from_env()
    ensure_keys(config.keys_dir)
    admin = {"Authorization": f"Bearer {local_token(config.keys_dir, 'admin', sub='admin-privacy', ttl_seconds=600)}"}
    try:
        found = asyncio.run(export(Endpoints.local(), admin, email))
    except ToolError as exc:
        _fail(str(exc))
    print(json.dumps(found, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    app()
