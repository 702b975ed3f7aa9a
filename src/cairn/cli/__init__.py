"""The ``cairn`` command: a face of the same service layer the SDK uses."""

from __future__ import annotations

import sys

import typer

from cairn.cli import (
    data,
    db,
    evaluate,
    experiments,
    features,
    jobs,
    models,
    monitoring,
    pipelines,
    runs,
    schedules,
    serving,
    settings_cmd,
)
from cairn.cli.output import print_error
from cairn.errors import CairnError, InvalidInput, NotFound

app = typer.Typer(
    name="cairn",
    help="cairn: track, version, evaluate, deploy and monitor models, one maturity level at a time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("config")(settings_cmd.show_config)
app.add_typer(data.app, name="data")
app.add_typer(db.app, name="db")
app.command("evaluate")(evaluate.evaluate_cmd)
app.add_typer(evaluate.app, name="evaluations")
app.add_typer(experiments.app, name="experiments")
app.add_typer(features.app, name="features")
app.add_typer(models.app, name="models")
app.add_typer(monitoring.app, name="monitor")
app.add_typer(monitoring.alerts_app, name="alerts")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(runs.app, name="runs")
app.add_typer(jobs.app, name="jobs")
app.add_typer(jobs.quotas_app, name="quotas")
app.add_typer(schedules.app, name="schedules")
app.command("scheduler")(schedules.scheduler)
app.command("serve")(serving.serve)
app.command("deploy")(serving.deploy)
app.command("deployments")(serving.deployments)


def main() -> None:
    """Run the CLI; a cairn error prints its message and exits 2 (bad input) or 1."""
    try:
        status = app(standalone_mode=False)  # a command's typer.Exit(n) comes back as n
    except CairnError as exc:
        print_error(exc)
        sys.exit(2 if isinstance(exc, InvalidInput | NotFound) else 1)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(status, int) and status:
        sys.exit(status)
