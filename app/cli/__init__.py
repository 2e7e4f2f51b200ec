"""The `qunyun` command line. Each feature adds a sub-command group in its own module."""

from __future__ import annotations

import typer

from app.cli import db, demo, faq, moderation, points, posts, serve, simulate

cli = typer.Typer(
    name="qunyun",
    help="Qunyun 群运: community operations bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.command("serve")(serve.serve)
cli.command("demo")(demo.demo)
cli.command("simulate")(simulate.simulate)
cli.add_typer(db.app, name="db")
cli.add_typer(points.app, name="points")
cli.add_typer(posts.app, name="posts")
cli.add_typer(faq.app, name="faq")
cli.add_typer(moderation.app, name="moderation")
cli.command("scheduler")(posts.scheduler)


def main() -> None:
    cli()
