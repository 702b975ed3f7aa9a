"""The run-search language: filters and order-by items, as real queries on SQLite and PostgreSQL.

One store per backend is seeded with eight runs whose params, tags and metrics cover the hard
cases (a NaN metric stored as NULL, missing keys, non-numeric params, keys with dots, spaces and
dashes, LIKE wildcards in values); every expression must select exactly the same runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from cairn.errors import FilterSyntaxError, InvalidInput
from cairn.store import Store, schema
from cairn.tracking.filters import apply_order_by, compile_filter

ALL = {f"r{i}" for i in range(1, 9)}
HOUR = 3_600_000


def ms(iso: str) -> int:
    """Milliseconds since the epoch of an ISO date-time, UTC when no offset is given."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# id: (name, status, start, creator, experiment, parent, git_commit, source)
RUNS = {
    "r1": ("baseline", "finished", "2026-10-01", "alice", "e1", None, "abc123", "train.py"),
    "r2": ("rf-deep", "finished", "2026-10-15", "alice", "e1", None, "abc123", "train.py"),
    "r3": ("rf-shallow", "failed", "2026-11-01", "bob", "e1", "r2", "def456", "notebook.ipynb"),
    "r4": ("xgb", "running", "2026-11-01T12:00", "bob", "e1", None, None, None),
    "r5": ("XGB_big", "killed", "2026-11-02", "carol", "e2", None, "def456", "train.py"),
    "r6": (None, "finished", "2026-11-03", "carol", "e2", "r2", "abc123", "train.py"),
    "r7": ("svm", "finished", "2026-11-04", "dave", "e2", None, None, "train.py"),
    "r8": ("lr's run", "finished", "2026-11-05", "dave", "e2", None, None, None),
}
PARAMS = {
    "model": {
        "r1": "lr",
        "r2": "rf",
        "r3": "rf",
        "r4": "xgb",
        "r5": "xgb",
        "r6": "svm",
        "r7": "RF",
        "r8": "o'neil",
    },
    "lr": {
        "r1": "0.1",
        "r2": "0.01",
        "r3": "1e-3",
        "r4": "auto",
        "r5": "0.5",
        "r6": "-2",
        "r7": "10",
    },
    # Text that a lenient CAST would read as a number: only r1-r4 and r8 are numbers.
    "depth": {
        "r1": "+4",
        "r2": "12",
        "r3": "3",
        "r4": "1e999",
        "r5": "2024-01-01",
        "r6": "1-2",
        "r7": "1.5.2",
        "r8": ".5",
    },
    "width": {"r1": " 7", "r2": "7", "r3": "1.", "r4": "abc", "r5": "", "r6": "nan"},
    "learning-rate": {"r1": "0.3"},
    "opt.name": {"r2": "adam", "r3": "sgd"},
}
TAGS = {
    "team": {"r1": "risk", "r2": "risk", "r3": "growth", "r4": "Risk", "r5": "ops", "r7": "risk"},
    "release candidate": {"r5": "yes"},
    "size": {"r1": "b", "r2": "d", "r3": "a", "r5": "c", "r7": "e"},
    "note": {
        "r2": "50% off",
        "r3": "50 percent",
        "r4": "a_b",
        "r5": "axb",
        "r6": "[x]*?",
        "r7": "c:\\dir",
    },
}
METRICS = {  # None is NaN
    "auc": {"r1": 0.7, "r2": 0.92, "r3": 0.95, "r4": None, "r5": 0.91, "r6": 0.5, "r7": 0.99},
    "loss": {"r1": 0.5, "r2": 0.2, "r3": 0.1, "r4": 1e6, "r5": -1.5, "r7": 0.05, "r8": 0.3},
    "val.auc": {"r2": 0.9, "r3": 0.8},
}


def seed(store: Store) -> None:
    with store.write() as conn:
        conn.execute(
            insert(schema.experiments),
            [
                {"id": e, "name": f"exp-{e}", "created_at": 0, "creator": "alice"}
                for e in ("e1", "e2")
            ],
        )
        conn.execute(
            insert(schema.runs),
            [
                {
                    "id": run_id,
                    "name": name,
                    "status": status,
                    "start_time": ms(start),
                    "end_time": None if status == "running" else ms(start) + HOUR,
                    "creator": creator,
                    "experiment_id": experiment,
                    "parent_id": parent,
                    "git_commit": commit,
                    "source": source,
                }
                for run_id, (name, status, start, creator, experiment, parent, commit, source) in (
                    RUNS.items()
                )
            ],
        )
        for table, values in ((schema.params, PARAMS), (schema.tags, TAGS)):
            rows = [
                {"run_id": run_id, "key": key, "value": value}
                for key, by_run in values.items()
                for run_id, value in by_run.items()
            ]
            conn.execute(insert(table), rows)
        conn.execute(
            insert(schema.latest_metrics),
            [
                {"run_id": run_id, "key": key, "step": 3, "timestamp": 0, "value": value}
                for key, by_run in METRICS.items()
                for run_id, value in by_run.items()
            ],
        )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A seeded store, once per backend for the module (the tests only read)."""
    if request.param == "sqlite":
        backend = Store(f"sqlite:///{tmp_path_factory.mktemp('filters')}/t.db")
        seed(backend)
        yield backend
        backend.close()
        return
    backend = Store(request.getfixturevalue("postgres_module_uri"))
    seed(backend)
    yield backend
    backend.close()


def matching(store: Store, expression: str) -> set[str]:
    clause = compile_filter(expression)
    assert clause is not None
    with store.read() as conn:
        return set(conn.scalars(select(schema.runs.c.id).where(clause)))


def ordered(store: Store, order_by: list[str] | str | None, where: str | None = None) -> list[str]:
    stmt = select(schema.runs.c.id)
    clause = compile_filter(where)
    if clause is not None:
        stmt = stmt.where(clause)
    with store.read() as conn:
        return list(conn.scalars(apply_order_by(stmt, order_by)))


def runs(*numbers: int) -> set[str]:
    return {f"r{n}" for n in numbers}


CASES = [
    # metrics: numbers only; NaN (NULL) fails every comparison; a missing key matches nothing
    ("metrics.auc > 0.9", runs(2, 3, 5, 7)),
    ("metrics.auc >= 0.92", runs(2, 3, 7)),
    ("metrics.auc < 0.7", runs(6)),
    ("metrics.auc <= 0.7", runs(1, 6)),
    ("metrics.auc = 0.92", runs(2)),
    ("metrics.auc == 0.92", runs(2)),
    ("metrics.auc != 0.5", runs(1, 2, 3, 5, 7)),
    ("metrics.auc <> 0.5", runs(1, 2, 3, 5, 7)),
    ("metrics.auc in (0.5, 0.7)", runs(1, 6)),
    ("metrics.auc not in (0.5, 0.7)", runs(2, 3, 5, 7)),
    ("metrics.auc is null", runs(8)),
    ("metrics.auc is not null", ALL - runs(8)),
    ("metrics.auc > 0.9 or metrics.auc <= 0.9", ALL - runs(4, 8)),
    ("not metrics.auc > 0.9", runs(1, 4, 6, 8)),
    ("metrics.auc = 1", set()),
    ("metrics.loss < 0", runs(5)),
    ("metrics.loss = -1.5", runs(5)),
    ("metrics.loss >= 1e6", runs(4)),
    ("metrics.loss > 1E+5", runs(4)),
    ("metrics.loss < .1", runs(5, 7)),
    ("metrics.`val.auc` >= 0.9", runs(2)),
    ('metrics."val.auc" < 0.9', runs(3)),
    ("metric.auc > 0.98", runs(7)),
    # params: strings; numbers compare as typed for =, != and in, numerically for < and >
    ("params.model = 'rf'", runs(2, 3)),
    ('params.model == "rf"', runs(2, 3)),
    ("params.model != 'rf'", runs(1, 4, 5, 6, 7, 8)),
    ("params.model <> 'rf'", runs(1, 4, 5, 6, 7, 8)),
    ("params.model like 'r_'", runs(2, 3)),
    ("params.model like 'R%'", runs(7)),
    ("params.model ilike 'rf'", runs(2, 3, 7)),
    ("params.model ILIKE 'R%'", runs(2, 3, 7)),
    ("params.model not like 'r%'", runs(1, 4, 5, 6, 7, 8)),
    ("params.model not ilike 'r%'", runs(1, 4, 5, 6, 8)),
    ("params.model in ('rf', 'svm')", runs(2, 3, 6)),
    ("params.model not in ('rf', 'svm')", runs(1, 4, 5, 7, 8)),
    ("params.model >= 's'", runs(4, 5, 6)),
    (r"params.model = 'o\'neil'", runs(8)),
    ('params.model = "o\'neil"', runs(8)),
    ("param.model = 'xgb'", runs(4, 5)),
    ("params.lr = 0.1", runs(1)),
    ("params.lr = 1e-3", runs(3)),
    ("params.lr = -2", runs(6)),
    ("params.lr != 0.1", runs(2, 3, 4, 5, 6, 7)),
    ("params.lr in (0.1, 0.01)", runs(1, 2)),
    ("params.lr > 0.05", runs(1, 5, 7)),
    ("params.lr >= 2", runs(7)),
    ("params.lr < 1", runs(1, 2, 3, 5, 6)),
    ("params.lr <= -2", runs(6)),
    ("params.lr > 'a'", runs(4)),
    ("params.lr is null", runs(8)),
    ("params.lr is not null", ALL - runs(8)),
    ("params.depth > 1", runs(1, 2, 3, 4)),
    ("params.depth < 1", runs(8)),
    ("params.width >= 1", runs(2, 3)),
    ("params.\"learning-rate\" = '0.3'", runs(1)),
    ("params.`learning-rate` > 0.2", runs(1)),
    ("params.`opt.name` in ('adam', 'sgd')", runs(2, 3)),
    ("params.in is null", ALL),
    # tags, and LIKE wildcards that must be escaped on one backend or the other
    ("tags.team = 'risk'", runs(1, 2, 7)),
    ("tag.team ilike 'RISK'", runs(1, 2, 4, 7)),
    ("tags.team is null", runs(6, 8)),
    ("tags.`release candidate` = 'yes'", runs(5)),
    (r"tags.note like '50\% %'", runs(2)),
    ("tags.note like '50%'", runs(2, 3)),
    (r"tags.note like 'a\_b'", runs(4)),
    ("tags.note like 'a_b'", runs(4, 5)),
    (r"tags.note ilike 'A\_B'", runs(4)),
    ("tags.note like '[x]*?'", runs(6)),
    ("tags.note like '%*%'", runs(6)),
    (r"tags.note = '50\% off'", runs(2)),
    (r"tags.note like 'c:\\%'", runs(7)),
    (r"tags.note = 'c:\\dir'", runs(7)),
    # attributes
    ("status = 'FINISHED'", runs(1, 2, 6, 7, 8)),
    ("attributes.status in ('failed', 'Killed')", runs(3, 5)),
    ("status != 'finished'", runs(3, 4, 5)),
    ("status not in ('finished', 'running')", runs(3, 5)),
    ("status like 'FIN%'", runs(1, 2, 6, 7, 8)),
    ("name like 'rf%'", runs(2, 3)),
    ("name like 'xgb%'", runs(4)),
    ("attributes.name ilike 'xgb%'", runs(4, 5)),
    ("name is null", runs(6)),
    ("name is not null and name != 'baseline'", runs(2, 3, 4, 5, 7, 8)),
    (r"name = 'lr\'s run'", runs(8)),
    ("Name = 'svm'", runs(7)),
    ("creator = 'bob'", runs(3, 4)),
    ("user in ('alice', 'dave')", runs(1, 2, 7, 8)),
    ("run_id = 'r1'", runs(1)),
    ("attributes.run_id in ('r1', 'r2', 'nope')", runs(1, 2)),
    ("experiment_id = 'e2'", runs(5, 6, 7, 8)),
    ("parent_id = 'r2'", runs(3, 6)),
    ("parent_id is not null", runs(3, 6)),
    ("git_commit = 'abc123'", runs(1, 2, 6)),
    ("git_commit is null", runs(4, 7, 8)),
    ("source like '%.ipynb'", runs(3)),
    # times: milliseconds or ISO-8601, UTC unless an offset is given
    ("start_time >= '2026-11-01'", runs(3, 4, 5, 6, 7, 8)),
    ("start_time < '2026-11-01T12:00:00Z'", runs(1, 2, 3)),
    ("start_time = '2026-11-01T12:00:00+00:00'", runs(4)),
    ("start_time = '2026-11-01T13:00:00+01:00'", runs(4)),
    ("start_time = '2026-11-01 12:00'", runs(4)),
    (f"start_time = {ms('2026-11-01T12:00')}", runs(4)),
    (f"start_time > {ms('2026-11-03')}", runs(7, 8)),
    (f"start_time > {ms('2026-11-03') - 0.5}", runs(6, 7, 8)),
    ("start_time in ('2026-10-01', '2026-10-15')", runs(1, 2)),
    ("end_time > '2026-11-04'", runs(7, 8)),
    ("end_time is null", runs(4)),
    # precedence: not > and > or; parentheses; keywords in any case
    ("tags.team = 'risk' or tags.team = 'ops' and metrics.auc > 0.95", runs(1, 2, 7)),
    ("(tags.team = 'risk' or tags.team = 'ops') and metrics.auc > 0.9", runs(2, 5, 7)),
    ("not tags.team = 'risk' and metrics.auc > 0.9", runs(3, 5)),
    ("not (tags.team = 'risk' and metrics.auc > 0.9)", runs(1, 3, 4, 5, 6, 8)),
    ("params.model = 'rf' and metrics.auc > 0.94 or tags.team = 'risk'", runs(1, 2, 3, 7)),
    ("params.model = 'rf' and (metrics.auc > 0.94 or tags.team = 'risk')", runs(2, 3)),
    ("metrics.auc > 0.9 AND params.model = 'rf' Or name = 'svm'", runs(2, 3, 7)),
    ("metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'risk'", runs(2)),
    ("not not params.model = 'rf'", runs(2, 3)),
    ("((params.model = 'rf'))", runs(2, 3)),
    ("NOT params.model IN ('rf') AND params.model IS NOT NULL", runs(1, 4, 5, 6, 7, 8)),
    ("params.model = 'rf'\n  and metrics.auc > 0.94", runs(3)),
    # user text is always a bound value
    (r"params.model = 'x\' OR 1=1 --'", set()),
    ("params.`x'; DROP TABLE runs; --` = 'a'", set()),
    ("name = 'a; DROP TABLE runs'", set()),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filter_selects_exactly(store: Store, expression: str, expected: set[str]) -> None:
    assert matching(store, expression) == expected


@pytest.mark.parametrize("empty", [None, "", "   \n"])
def test_empty_filter_is_none(empty: str | None) -> None:
    assert compile_filter(empty) is None


def test_filter_is_a_string() -> None:
    with pytest.raises(FilterSyntaxError, match="expected a string"):
        compile_filter(42)  # type: ignore[arg-type]


def test_filter_in_a_query_that_joins_the_same_table(store: Store) -> None:
    # The EXISTS correlates runs only, so an outer join of params does not leak into it.
    stmt = (
        select(schema.runs.c.id, schema.params.c.value)
        .join(schema.params, schema.params.c.run_id == schema.runs.c.id)
        .where(schema.params.c.key == "lr", compile_filter("params.model = 'rf'"))
    )
    with store.read() as conn:
        assert set(conn.execute(stmt)) == {("r2", "0.01"), ("r3", "1e-3")}


def test_values_are_bound_never_inlined(store: Store) -> None:
    clause = compile_filter("name = 'a; DROP TABLE runs' or params.`k; DELETE` = 'x'")
    sql = str(select(schema.runs.c.id).where(clause).compile(store.engine))
    assert "DROP" not in sql and "DELETE" not in sql


@pytest.mark.parametrize(
    "attack", ["params.model = 'x'' OR 1=1 --'", "name = 'a'; DROP TABLE runs", "name = 'a' --"]
)
def test_injection_attempts_are_syntax_errors_and_leave_runs_intact(
    store: Store, attack: str
) -> None:
    with pytest.raises(FilterSyntaxError):
        compile_filter(attack)
    with store.read() as conn:
        assert conn.scalar(select(func.count()).select_from(schema.runs)) == len(RUNS)


# -- ordering ------------------------------------------------------------------------------------

ORDERS = [
    (None, None, ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]),
    ([], None, ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]),
    (["start_time asc"], None, ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]),
    # missing and NaN metrics last in both directions, ties broken by id
    (["metrics.auc desc"], None, ["r7", "r3", "r2", "r5", "r1", "r6", "r8", "r4"]),
    (["metrics.auc"], None, ["r6", "r1", "r5", "r2", "r3", "r7", "r4", "r8"]),
    ("metrics.auc ASC", None, ["r6", "r1", "r5", "r2", "r3", "r7", "r4", "r8"]),
    (["metrics.auc desc", "metrics.loss"], None, ["r7", "r3", "r2", "r5", "r1", "r6", "r8", "r4"]),
    (["tags.size"], None, ["r3", "r1", "r5", "r2", "r7", "r4", "r6", "r8"]),
    (["tags.size desc"], None, ["r7", "r2", "r5", "r1", "r3", "r8", "r6", "r4"]),
    (["params.`opt.name` desc"], None, ["r3", "r2", "r8", "r7", "r6", "r5", "r4", "r1"]),
    (["status", "metrics.loss desc"], None, ["r3", "r1", "r8", "r2", "r7", "r6", "r5", "r4"]),
    (["end_time desc"], None, ["r8", "r7", "r6", "r5", "r3", "r2", "r1", "r4"]),
    (["end_time"], None, ["r1", "r2", "r3", "r5", "r6", "r7", "r8", "r4"]),
    (
        ["user desc", "attributes.start_time"],
        None,
        ["r7", "r8", "r5", "r6", "r3", "r4", "r1", "r2"],
    ),
    (["name desc"], "run_id != 'r5'", ["r4", "r7", "r3", "r2", "r8", "r1", "r6"]),
    (["name"], "run_id != 'r5'", ["r1", "r8", "r2", "r3", "r7", "r4", "r6"]),
    (["metrics.auc desc"], "tags.team = 'risk'", ["r7", "r2", "r1"]),
]


@pytest.mark.parametrize(
    ("order_by", "where", "expected"), ORDERS, ids=[repr(o[:2]) for o in ORDERS]
)
def test_order_by(
    store: Store, order_by: list[str] | str | None, where: str | None, expected: list[str]
) -> None:
    assert ordered(store, order_by, where) == expected


def test_order_by_ends_with_run_id_in_the_last_direction() -> None:
    sql = str(apply_order_by(select(schema.runs.c.id), ["metrics.auc desc"]))
    assert sql.rstrip().endswith("runs.id DESC")
    sql = str(apply_order_by(select(schema.runs.c.id), ["status"]))
    assert sql.rstrip().endswith("runs.id ASC")


# -- errors --------------------------------------------------------------------------------------

SYNTAX_ERRORS = [
    ("metrics.auc 0.9", 13, "expected a comparison operator", "found '0.9'"),
    ("metrics.auc > ", 14, "expected a value (a number or a quoted string)", "found the end"),
    ("metrics.auc > 0.9 and", 22, "expected a field (metrics.<key>", "found the end"),
    ("(metrics.auc > 0.9", 19, "expected 'and', 'or' or ')'", "found the end"),
    ("params.model = 'rf", 16, "expected a value", "found an unterminated quoted string"),
    ("params.model in 'rf'", 17, "expected '('", "found \"'rf'\""),
    ("params.model is 'rf'", 17, "expected null or not null", "found \"'rf'\""),
    ("params.model in ('a' 'b')", 22, "expected ',' or ')'", "found \"'b'\""),
    ("metrics.auc >> 1", 14, "expected a value", "found '>'"),
    ("name = 'a'; DROP TABLE runs", 11, "'and', 'or' or the end of the expression", "';'"),
    ("metrics.val.auc > 1", 12, "expected a comparison operator", "backticks"),
    ("params.learning-rate > 1", 16, "expected a comparison operator", "backticks"),
    ("metrics 1", 9, "expected '.' and a key after 'metrics'", "found '1'"),
    ("metrics. > 1", 10, "expected a key", "found '>'"),
    ("and", 1, "expected a field", "found the keyword 'and'"),
    ("not", 4, "expected a field", "found the end"),
]


@pytest.mark.parametrize(("text", "column", "expected", "found"), SYNTAX_ERRORS)
def test_syntax_errors_point_at_the_token(
    text: str, column: int, expected: str, found: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        compile_filter(text)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert (error.field, error.value) == ("filter", text)
    message = str(error)
    assert repr(text) in message
    assert f"column {column}:" in message
    assert expected in message and found in message
    *_, shown, caret = message.splitlines()
    assert shown == "  " + text.splitlines()[-1].rstrip("\n")
    assert caret == "  " + " " * (column - 1) + "^"


def test_error_on_a_later_line_names_line_and_column() -> None:
    with pytest.raises(FilterSyntaxError, match="line 2, column 7") as caught:
        compile_filter("params.model = 'rf'\n  and auc > 1")
    assert caught.value.message.splitlines()[-2:] == ["    and auc > 1", "        ^"]


FIELD_ERRORS = [
    ("metricz.auc > 1", ["'metricz'", "metrics.", "params.", "tags.", "attributes."]),
    ("colour = 'x'", ["unknown attribute 'colour'", "start_time", "run_id", "git_commit"]),
    ("attributes.colour = 'x'", ["unknown attribute 'colour'", "experiment_id"]),
    ("metrics > 1", ["'metrics' needs a key"]),
    ("metrics auc > 1", ["'metrics' needs a key"]),
    ("metrics.`` > 1", ["needs a key"]),
    ("metrics.auc > 'high'", ["metrics.auc", "numbers only", "'high'"]),
    ("metrics.auc in (0.5, 'x')", ["metrics.auc", "numbers only", "'x'"]),
    ("metrics.auc like '0.9%'", ["metrics.auc", "like"]),
    ("params.lr like 0.1", ["quoted pattern", "0.1"]),
    ("status = 'done'", ["status='done'", "running, finished, failed, killed"]),
    ("status > 'failed'", ["status", "=, !=, in"]),
    ("start_time > 'yesterday'", ["start_time='yesterday'", "ISO-8601"]),
    ("end_time like '2026%'", ["end_time", "like"]),
]


@pytest.mark.parametrize(("text", "words"), FIELD_ERRORS)
def test_field_and_value_errors_name_them(text: str, words: list[str]) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        compile_filter(text)
    assert (caught.value.field, caught.value.value) == ("filter", text)
    for word in words:
        assert word in caught.value.message
    assert caught.value.message.splitlines()[-1].strip() == "^"


ORDER_ERRORS = [
    ("metrics.auc descending", ["unknown direction 'descending'", "asc or desc", "column 13"]),
    ("metrics.auc desc asc", ["expected the end of the item", "found 'asc'"]),
    ("colour", ["unknown attribute 'colour'", "start_time"]),
    ("metricz.auc", ["'metricz'", "metrics."]),
    ("metrics.`auc", ["unterminated backtick-quoted key"]),
    ("metrics.auc,", ["asc, desc or the end of the item", "','"]),
    ("", ["empty item"]),
]


@pytest.mark.parametrize(("item", "words"), ORDER_ERRORS)
def test_order_by_errors(item: str, words: list[str]) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        apply_order_by(select(schema.runs.c.id), ["start_time", item])
    assert (caught.value.field, caught.value.value) == ("order_by", item)
    for word in words:
        assert word in caught.value.message
