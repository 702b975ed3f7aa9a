"""``@cairn.step`` and ``@cairn.pipeline``: training pipelines written as plain Python functions.

A step is a function whose outputs are stored as artifacts; a pipeline is a function that calls
steps. Calling a step inside a pipeline function does not run it: it returns a lazy handle to
its output, and handing that handle to another step is what draws an edge of the DAG (see
``cairn.pipelines.graph``). Steps and pipelines live at module level, so that worker processes
can import them by reference (``module:qualname``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import re
import sys
import textwrap
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cairn.errors import InvalidInput, NotFound
from cairn.pipelines.resources import Resources

if TYPE_CHECKING:
    from cairn.pipelines.graph import Graph
    from cairn.pipelines.runner import PipelineRun


def source_hash(fn: Callable[..., Any]) -> str:
    """sha256 of a function's source (with its decorators), taken when the code was loaded.

    A function without retrievable source (defined in a REPL) hashes its bytecode instead.
    Helpers the function calls are not part of its hash.
    """
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        code = fn.__code__
        text = repr((code.co_code, code.co_consts, code.co_names))
    return hashlib.sha256(text.encode()).hexdigest()


def reference(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function; a script run as ``__main__`` is named by its path."""
    module = fn.__module__
    if module == "__main__":
        path = getattr(sys.modules["__main__"], "__file__", None)
        if path:
            module = str(Path(path).resolve())
    return f"{module}:{fn.__qualname__}"


class Step:
    """A function made into a pipeline step; ``Step.fn`` is the plain function."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        cache: bool = True,
        retries: int = 0,
        retry_backoff: float = 1.0,
        timeout: float | None = None,
        resources: Resources = Resources(),
    ) -> None:
        if not callable(fn) or isinstance(fn, Step | Pipeline):
            raise InvalidInput.for_field("step", fn, "a function")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput.for_field("retries", retries, "a whole number, 0 or more")
        if not _is_number(retry_backoff) or retry_backoff < 0:
            raise InvalidInput.for_field("retry_backoff", retry_backoff, "seconds, 0 or more")
        if timeout is not None and (not _is_number(timeout) or timeout <= 0):
            raise InvalidInput.for_field("timeout", timeout, "seconds above 0, or None")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.cache = bool(cache)
        self.retries = retries
        self.retry_backoff = float(retry_backoff)
        self.timeout = None if timeout is None else float(timeout)
        self.resources = resources
        self.ref = f"{fn.__module__}:{fn.__qualname__}"
        self.code_hash = source_hash(fn)
        self.signature = inspect.signature(fn)
        self.declared_outputs = declared_output_count(fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _tracing("step", self).add(self, args, kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (load_step, (self.ref,))

    def __repr__(self) -> str:
        return f"Step({self.name!r}, ref={self.ref!r})"


class Pipeline:
    """A function that wires steps; its arguments with their defaults are the parameters."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        if not callable(fn) or isinstance(fn, Step | Pipeline):
            raise InvalidInput.for_field("pipeline", fn, "a function")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.ref = reference(fn)
        self.code_hash = source_hash(fn)
        self.signature = inspect.signature(fn)
        for param in self.signature.parameters.values():
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                raise InvalidInput(
                    f"pipeline {self.name!r}: parameter {param.name!r} must be a named argument "
                    "(no *args, **kwargs or positional-only parameters)",
                    field="params",
                    value=param.name,
                )

    @property
    def params(self) -> dict[str, Any]:
        """Each parameter and its default (``inspect.Parameter.empty`` when it has none)."""
        return {name: p.default for name, p in self.signature.parameters.items()}

    def build(self, params: Mapping[str, Any] | None = None) -> Graph:
        """Trace the function once with ``params`` and return the validated DAG."""
        from cairn.pipelines.graph import trace

        return trace(self, params)

    def run(self, params: Mapping[str, Any] | None = None, **options: Any) -> PipelineRun:
        """Run the pipeline as a tracked run: ``cairn.pipelines.run(self, params, **options)``.

        Options: ``executor``, ``cache``, ``experiment``, ``on_event``.
        """
        from cairn.pipelines.runner import run

        return run(self, params, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _tracing("pipeline", self).pipelines.append(self)  # called inside another: inlined
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, ref={self.ref!r})"


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    cache: bool = True,
    retries: int = 0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    cpus: float = 1,
    gpus: int = 0,
    memory_mb: int | None = None,
    name: str | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step: ``@cairn.step`` or ``@cairn.step(retries=2, ...)``.

    ``cache``: reuse outputs of an earlier run with the same code, arguments and inputs.
    ``retries`` more attempts after a failure, waiting ``retry_backoff`` seconds, doubled each
    time. ``timeout``: seconds after which an attempt is killed and fails. ``cpus``, ``gpus``,
    ``memory_mb``: what the executor must have free to start the step. ``name`` defaults to the
    function's name. Return a tuple for several outputs; annotate ``-> tuple[A, B]`` to unpack
    them in the pipeline (``a, b = split(frame)``), or index the handle (``parts[0]``).
    """
    resources = Resources.request(cpus, gpus, memory_mb)

    def wrap(function: Callable[..., Any]) -> Step:
        return Step(
            function,
            name=name,
            cache=cache,
            retries=retries,
            retry_backoff=retry_backoff,
            timeout=timeout,
            resources=resources,
        )

    return wrap if fn is None else wrap(fn)


def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline: ``@cairn.pipeline`` or ``@cairn.pipeline(name="training")``.

    The function's arguments are the pipeline's parameters; it is traced once per run with the
    values given, so it should only wire steps together (no work, no branching on outputs).
    """

    def wrap(function: Callable[..., Any]) -> Pipeline:
        return Pipeline(function, name=name)

    return wrap if fn is None else wrap(fn)


# references --------------------------------------------------------------------------------


def load_pipeline(ref: str) -> Pipeline:
    """The pipeline a reference names: ``package.module:function`` or ``path/to/file.py:function``.

    A file path puts its folder on ``sys.path`` and imports the file as a module, so that worker
    processes can import it too.
    """
    return _load(ref, "pipeline", Pipeline)


def load_step(ref: str) -> Step:
    """The step a ``module:qualname`` reference names (how workers find the code to run)."""
    return _load(ref, "step", Step)


_OUTSIDE_A_TRACE = {
    "step": "step {name!r} was called outside a pipeline: call steps inside a @cairn.pipeline "
    "function, or call {name}.fn(...) to run the plain function",
    "pipeline": "pipeline {name!r} is not called directly: use {name}.run(params={{...}}) or "
    "cairn.pipelines.run({ref!r})",
}


def _tracing(kind: str, called: Step | Pipeline) -> Graph:
    """The graph being traced; outside a trace, InvalidInput naming the step or pipeline."""
    from cairn.pipelines.graph import current_graph

    graph = current_graph()
    if graph is None:
        message = _OUTSIDE_A_TRACE[kind].format(name=called.name, ref=called.ref)
        raise InvalidInput(message, field=kind, value=called.name)
    return graph


def _load(ref: str, kind: str, wanted: type) -> Any:
    if not isinstance(ref, str) or ref.count(":") < 1 or ref.endswith(":"):
        raise InvalidInput.for_field(kind, ref, "a reference such as 'package.module:function'")
    module_name, _, qualname = ref.rpartition(":")
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        module_name = _add_file_to_path(module_name, ref, kind)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise NotFound(
                f"no {kind} {ref!r}: module {module_name!r} cannot be imported (is it on "
                "sys.path or PYTHONPATH?)",
                field=kind,
                value=ref,
            ) from None
        raise  # the module exists but imports something missing: the user's error to see
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise NotFound(
                f"no {kind} {ref!r}: module {module_name!r} has no {qualname!r}",
                field=kind,
                value=ref,
            )
    if not isinstance(found, wanted):
        raise InvalidInput(
            f"{ref!r} is a {type(found).__name__}, not a @cairn.{kind} function",
            field=kind,
            value=ref,
        )
    return found


def _add_file_to_path(path_text: str, ref: str, kind: str) -> str:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file() or path.suffix != ".py":
        raise NotFound(
            f"no {kind} {ref!r}: {str(path)!r} is not a Python file", field=kind, value=ref
        )
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return path.stem


# outputs -----------------------------------------------------------------------------------

_TUPLE_TEXT = re.compile(r"^\s*(?:typing\.)?(?:tuple|Tuple)\[(.*)\]\s*$", re.DOTALL)


def declared_output_count(fn: Callable[..., Any]) -> int | None:
    """How many outputs a ``-> tuple[A, B]`` annotation declares; None without one."""
    try:
        annotation = typing.get_type_hints(fn).get("return")
    except Exception:  # an unresolvable forward reference: read the text instead
        annotation = getattr(fn, "__annotations__", {}).get("return")
    if isinstance(annotation, str):
        match = _TUPLE_TEXT.match(annotation)
        if not match or "..." in match.group(1):
            return None
        return len(_split_top_level(match.group(1)))
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if args and Ellipsis not in args and args != ((),):
            return len(args)
    return None


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)
