"""``cairn serve``, ``cairn deploy`` and ``cairn deployments``."""

from __future__ import annotations

import typer

from cairn.cli.output import JSON_HELP, console, fmt_time, print_json, table

AS_JSON = typer.Option(False, "--json", help=JSON_HELP)


def serve(
    targets: list[str] = typer.Argument(
        ..., help="Models to serve: refs (name@champion, name/3) or folders from `models package`."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", "-p", help="TCP port."),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between checks of a served alias."),
    max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="Largest request body (MB)."),
    max_rows: int = typer.Option(100_000, "--max-rows", help="Most rows in one request."),
    log_interval: float = typer.Option(
        0.5, "--log-interval", help="Seconds between writes of the prediction log."
    ),
    model_threads: int = typer.Option(
        1, "--model-threads", help="BLAS/OpenMP threads one prediction may use."
    ),
    features: str | None = typer.Option(
        None, "--features", help="Feature service filling requests that carry only entity ids."
    ),
    log_predictions: bool = typer.Option(
        True, "--log-predictions/--no-log-predictions", help="Log every prediction to the store."
    ),
    compile: str | None = typer.Option(
        None,
        "--compile",
        help="onnx: serve scikit-learn, LightGBM and XGBoost models as ONNX graphs, checked to "
        "give the same answers.",
    ),
) -> None:
    """Serve models over HTTP: POST /v1/models/{name}/predict, /v1/feedback, /metrics."""
    from cairn.errors import InvalidInput
    from cairn.serving import ServerOptions
    from cairn.serving import serve as run_server

    for name, seconds in (("poll", poll), ("log-interval", log_interval)):
        if seconds <= 0:
            raise InvalidInput.for_field(name, seconds, "a number of seconds above 0")
    if max_body_mb <= 0:
        raise InvalidInput.for_field("max-body-mb", max_body_mb, "a size above 0")
    if max_rows < 1:
        raise InvalidInput.for_field("max-rows", max_rows, "a number of rows from 1")
    if model_threads < 1:
        raise InvalidInput.for_field("model-threads", model_threads, "a number of threads from 1")
    options = ServerOptions(
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        max_rows=max_rows,
        poll_interval=poll,
        log_interval=log_interval,
        model_threads=model_threads,
    )
    console.print(f"serving {', '.join(targets)} on http://{host}:{port} (Ctrl-C stops)")
    run_server(
        targets,
        host=host,
        port=port,
        options=options,
        log_predictions=log_predictions,
        features=features,
        compile=compile,
    )


def deploy(
    ref: str = typer.Argument(..., help="The version to deploy: name/3 or name@alias."),
    target: str = typer.Option("production", "--target", "-t", help="Where it goes."),
    comment: str | None = typer.Option(None, "--comment", "-m", help="Why: kept with it."),
    override_reason: str | None = typer.Option(
        None, "--override-reason", help="Deploy without a passing evaluation; recorded."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Record the deployment of an approved version (refused if it is not approved, or if its
    model's evaluation policy is not met)."""
    from cairn.serving.deployments import deploy as record

    done = record(ref, target, comment, override_reason)
    if as_json:
        print_json(done.to_dict())
        return
    console.print(
        f"deployed {done.ref} to {done.target} (approved by {done.approved_by}); id {done.id}"
    )


def deployments(
    target: str | None = typer.Option(None, "--target", "-t", help="Only this target."),
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    active: bool = typer.Option(False, "--active", help="Only what is deployed now."),
    as_json: bool = AS_JSON,
) -> None:
    """List deployments, newest first."""
    from cairn.serving.deployments import list_deployments

    found = list_deployments(target=target, model=model, active_only=active)
    if as_json:
        print_json([d.to_dict() for d in found])
        return
    t = table("deployments", ["ref", "target", "status", "when", "by", "approved by", "comment"])
    for d in found:
        t.add_row(
            d.ref,
            d.target,
            d.status,
            fmt_time(d.created_at)[:16],
            d.creator,
            d.approved_by,
            d.comment or "",
        )
    console.print(t)
    if not found:
        console.print("no deployments", style="dim")
