"""``cairn pipelines``: run, rerun, resume and show pipeline runs."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cairn import pipelines
from cairn.cli.output import (
    JSON_HELP,
    console,
    err_console,
    fmt_duration,
    fmt_status,
    print_json,
    table,
)
from cairn.core.serialization import JSON, NPY, PARQUET, PNG, SKOPS, TEXT
from cairn.errors import InvalidInput
from cairn.pipelines import PipelineRun, StepEvent
from cairn.pipelines.cache import StepOutputs

app = typer.Typer(help="Pipelines: run, rerun, resume and show runs.", no_args_is_help=True)

EXECUTOR = typer.Option(
    None,
    "--executor",
    help="local or ray (or ray://host:port); default CAIRN_EXECUTOR, else local.",
)
AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
_MEDIA = {PARQUET: "parquet", NPY: "npy", SKOPS: "skops", JSON: "json", TEXT: "text", PNG: "png"}
_EVENT_STYLE = {
    "started": ("cyan", "started"),
    "finished": ("green", "finished"),
    "cached": ("green", "cached"),
    "retrying": ("yellow", "retrying"),
    "failed": ("red", "failed"),
    "cancelled": ("yellow", "cancelled"),
}


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; a value is JSON when it parses as JSON, else the text itself."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput.for_field("param", item, "key=value, e.g. --param lr=0.1")
        try:
            params[key.strip()] = json.loads(text)
        except ValueError:
            params[key.strip()] = text
    return params


@app.command("run")
def run_pipeline(
    ref: str = typer.Argument(
        ..., help="The pipeline: package.module:function or file.py:function."
    ),
    param: list[str] = typer.Option(None, "--param", "-p", help="key=value; repeatable."),
    executor: str = EXECUTOR,
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step, cached or not."),
    experiment: str = typer.Option(
        None, "--experiment", "-e", help="Default: the pipeline's name."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Run a pipeline with the given parameters, showing steps as they start and finish."""
    params = parse_params(param)
    _report(
        lambda on_event: pipelines.run(
            ref,
            params,
            executor=executor,
            cache=not no_cache,
            experiment=experiment,
            on_event=on_event,
        ),
        as_json,
    )


@app.command("rerun")
def rerun(
    run_id: str,
    executor: str = EXECUTOR,
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step, cached or not."),
    as_json: bool = AS_JSON,
) -> None:
    """Run a recorded run's pipeline again with the same parameters (warns if its code changed)."""
    _report(
        lambda on_event: pipelines.rerun(
            run_id, executor=executor, cache=False if no_cache else None, on_event=on_event
        ),
        as_json,
    )


@app.command("resume")
def resume(run_id: str, executor: str = EXECUTOR, as_json: bool = AS_JSON) -> None:
    """Run a failed run again from its failed steps, reusing what its finished steps output."""
    _report(
        lambda on_event: pipelines.resume(run_id, executor=executor, on_event=on_event), as_json
    )


@app.command("show")
def show(run_id: str, as_json: bool = AS_JSON) -> None:
    """Show a pipeline run: its steps with status, cache hit, duration and outputs."""
    found = pipelines.get_run(run_id)
    if as_json:
        print_json(summary(found))
    else:
        print_run(found)


# output ------------------------------------------------------------------------------------


def _report(start: Callable[[Callable[[StepEvent], None]], PipelineRun], as_json: bool) -> None:
    """Run with progress on stderr, then print the run; exit 1 unless it finished."""
    with warnings.catch_warnings(record=True) as caught, _progress(as_json) as on_event:
        warnings.simplefilter("always", pipelines.CodeChangedWarning)
        result = start(on_event)
    for warning in caught:
        err_console.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
    if as_json:
        print_json(summary(result))
    else:
        print_run(result)
    if str(result.status) != "finished":
        raise typer.Exit(1)


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[StepEvent], None]]:
    """A progress bar of finished steps, and a line per step event, on stderr."""
    if quiet:
        yield lambda event: None
        return
    progress = Progress(
        TextColumn("[bold]steps"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    bar = progress.add_task("steps", total=None)

    def on_event(event: StepEvent) -> None:
        progress.update(bar, total=event.total)
        if event.kind in ("finished", "cached"):
            progress.advance(bar)
        style, word = _EVENT_STYLE.get(event.kind, ("white", event.kind))
        detail = f" [dim]{event.message}[/]" if event.message else ""
        attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        progress.console.print(
            f"[{style}]{word:>9}[/] {event.node}{attempt}{detail}", highlight=False
        )

    with progress:
        yield on_event


def print_run(found: PipelineRun) -> None:
    t = table(
        f"pipeline {found.pipeline} run {found.run_id}",
        ["step", "status", "cache", "duration", "outputs", "run"],
        wrap=("outputs",),
    )
    widths = [max((len(s.node) for s in found.steps), default=4), 8, 5, 8, 12, 12]
    for column, width in zip(t.columns, widths, strict=True):
        column.min_width = width
    for s in found.steps:
        t.add_row(
            s.node,
            fmt_status(s.status),
            s.cache or "",
            fmt_duration(s.duration_s),
            _fmt_outputs(s.outputs),
            (s.run_id or "")[:12],
        )
    console.print(t)
    params = ", ".join(f"{k}={v!r}" for k, v in (found.params or {}).items())
    console.print(f"{fmt_status(str(found.status))}  ref {found.ref}  params {params or '-'}")
    if found.error and str(found.status) != "finished":
        console.print(found.error, markup=False, highlight=False, soft_wrap=True)


def summary(found: PipelineRun) -> dict[str, Any]:
    """The run as JSON data."""
    return {
        "run_id": found.run_id,
        "pipeline": found.pipeline,
        "ref": found.ref,
        "experiment": found.experiment,
        "status": str(found.status),
        "params": found.params,
        "code_hash": found.code_hash,
        "error": found.error,
        "steps": [
            {
                "step": s.node,
                "status": s.status,
                "cache": s.cache,
                "duration_s": s.duration_s,
                "run_id": s.run_id,
                "outputs": None if s.outputs is None else json.loads(s.outputs.to_json()),
            }
            for s in found.steps
        ],
        "outputs": {name: json.loads(o.to_json()) for name, o in found.output_refs.items()},
    }


def _fmt_outputs(outputs: StepOutputs | None) -> str:
    if outputs is None:
        return ""
    return ", ".join(
        f"{_MEDIA.get(o.media_type, o.media_type)} {_fmt_size(o.size)}" for o in outputs.items
    )


def _fmt_size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return ""
