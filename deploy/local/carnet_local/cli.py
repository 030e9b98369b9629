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
def stack_up(foreground: bool = typer.Option(False, "--foreground", help="Stay attached; Ctrl-C stops everything.")) -> None:
    """Start PostgreSQL, Kafka, the SMTP capture and every service; return once all are ready."""
    config = StackConfig.from_env()
    try:
        components = local_stack.up(config, say=lambda line: console.print(line, highlight=False))
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
    families: int = typer.Option(200, "--families", min=4, help="families who apply (some are refused)"),
    schools: int = typer.Option(4, "--schools", min=1, help="schools (collèges)"),
    affiliates: int = typer.Option(6, "--affiliates", min=1, help="organisations that join and sign the convention"),
    seed: int = typer.Option(2014, "--seed", help="same seed, same season"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for each asynchronous effect"),
) -> None:
    """Run a whole campaign season against the running local stack (`carnet stack up`)."""
    import asyncio

    from .demo import DemoError, Endpoints, RichPhases, Season, SeasonSize

    size = SeasonSize(families=families, schools=schools, affiliates=affiliates, seed=seed)
    try:
        with RichPhases(console) as phases:
            outcome = asyncio.run(Season(Endpoints.local(), size, phases=phases, timeout=timeout).run())
    except DemoError as exc:
        _fail(str(exc))
    console.print(f"Campagne [bold]{outcome.campaign_id}[/bold] jouée. Le bilan : "
                  f"uv run carnet report --campaign-id {outcome.campaign_id}", highlight=False)


@app.command("report")
def report(
    campaign_id: str = typer.Option(None, "--campaign-id", help="the campaign (default: the latest opened)"),
    output: str = typer.Option("table", "--format", help="table, csv or json"),
) -> None:
    """The campaign's figures as the département presents them, gathered from the services' APIs."""
    import asyncio

    from . import report as figures
    from .demo import DemoError, Endpoints

    if output not in ("table", "csv", "json"):
        _fail(f"unknown format {output!r}: table, csv or json")
    config = StackConfig.from_env()
    ensure_keys(config.keys_dir)
    admin = local_token(config.keys_dir, "admin", sub="admin-report", ttl_seconds=600)
    try:
        found = asyncio.run(figures.gather(Endpoints.local(), {"Authorization": f"Bearer {admin}"}, campaign_id))
    except DemoError as exc:
        _fail(str(exc))
    if output == "table":
        console.print(figures.as_table(found))
    else:
        print(figures.as_csv(found) if output == "csv" else figures.as_json(found), end="" if output == "csv" else "\n")


if __name__ == "__main__":
    app()
