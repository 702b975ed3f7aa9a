"""Tables of the metadata store (SQLAlchemy Core).

Times are integer milliseconds since the epoch. Metric values are nullable floats: NULL stands for
NaN, because SQLite turns NaN into NULL on its own and one rule for every backend is simpler.
Changing a table here needs an Alembic revision in ``migrations/versions``; a test compares the
two so they cannot drift apart.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

ID = String(32)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
)

environments = Table(
    "environments",
    metadata,
    # sha256 of the canonical JSON below: one row per distinct environment, however many runs.
    Column("digest", String(64), primary_key=True),
    Column("python_version", String(64), nullable=False),
    Column("platform", String(256), nullable=False),
    Column("packages", Text, nullable=False),  # JSON object {name: version}
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("parent_id", ID, ForeignKey("runs.id"), nullable=True),
    Column("name", String(256), nullable=True),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("creator", String(256), nullable=False),
    Column("source", Text, nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("environment_digest", String(64), ForeignKey("environments.digest"), nullable=True),
    Column("host", String(256), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("notes", Text, nullable=True),
    Column("error", Text, nullable=True),  # traceback of the exception that failed the run
    Column("deleted_at", BigInteger, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value", "run_id"),  # covering: search reads no rows
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_key_value", "key", "value", "run_id"),
)

# Every logged point. No foreign key: the hot path inserts millions of rows and the run id is
# checked once per batch instead of once per row.
metrics = Table(
    "metrics",
    metadata,
    Column("run_id", ID, nullable=False),
    Column("key", String(256), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

# The last point of each (run, key), kept up to date per batch, so that search can filter and
# order by metrics without scanning the history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Index("ix_latest_metrics_key_value", "key", "value", "run_id"),
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)


# --- data versions and lineage (revision 0002) ---------------------------------------------

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dataset_id", ID, ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),  # hash of the content, whatever its layout
    Column("kind", String(16), nullable=False),  # table, file or folder
    Column("manifest_digest", String(64), nullable=False),  # blob: the Parquet file or manifest
    Column("size_bytes", BigInteger, nullable=False),
    Column("row_count", BigInteger, nullable=True),
    Column("column_count", Integer, nullable=True),
    Column("schema", Text, nullable=True),  # JSON
    Column("profile", Text, nullable=True),  # JSON
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_version"),
    UniqueConstraint("dataset_id", "digest", name="uq_dataset_versions_digest"),
    Index("ix_dataset_versions_digest", "digest"),
)

# Edges between any two records: dataset version -> run -> model version -> evaluation ->
# deployment. ``kind`` names the record type of each end (dataset_version, run, ...).
lineage = Table(
    "lineage",
    metadata,
    Column("src_kind", String(32), primary_key=True),
    Column("src_id", ID, primary_key=True),
    Column("dst_kind", String(32), primary_key=True),
    Column("dst_id", ID, primary_key=True),
    Column("relation", String(32), primary_key=True),  # e.g. input, output
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Index("ix_lineage_dst", "dst_kind", "dst_id"),
)


# --- pipelines: step cache, schedules, job queue and quotas (revision 0003) ------------------

# A finished step's outputs, by the hash of its code, parameters and inputs.
step_cache = Table(
    "step_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("pipeline", String(256), nullable=False),
    Column("step", String(256), nullable=False),
    Column("outputs", Text, nullable=False),  # JSON: [{digest, serializer, ...}]
    Column("run_id", ID, nullable=True),  # the step run that computed them
    Column("created_at", BigInteger, nullable=False),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("pipeline", String(512), nullable=False),  # module:function
    Column("cron", String(128), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("team", String(128), nullable=False),  # the job queue team its jobs bill to
    Column("priority", Integer, nullable=False),
    Column("paused", Boolean, nullable=False),
    Column("last_fire_at", BigInteger, nullable=True),  # the last due time handled
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
)

# Every due time of a schedule and what became of it: started, missed (the scheduler was
# down), failed to start.
schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("schedule_id", ID, ForeignKey("schedules.id"), primary_key=True),
    Column("fire_at", BigInteger, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("job_id", ID, nullable=True),
    Column("noted_at", BigInteger, nullable=False),
    Column("detail", Text, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("team", String(128), nullable=False),
    Column("pipeline", String(512), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # queued, running, finished, failed, cancelled
    Column("cpus", Float, nullable=False),
    Column("gpus", Integer, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("submitted_at", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),  # nanoseconds at submission: FIFO within a priority
    Column("started_at", BigInteger, nullable=True),
    Column("ended_at", BigInteger, nullable=True),
    Column("creator", String(256), nullable=False),
    Column("run_id", ID, nullable=True),
    Column("wait_reason", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("host", String(256), nullable=True),
    Column("pid", Integer, nullable=True),
    Index("ix_jobs_status_priority", "status", "priority", "seq"),
)

quotas = Table(
    "quotas",
    metadata,
    Column("team", String(128), primary_key=True),
    Column("max_jobs", Integer, nullable=True),  # None: no limit
    Column("cpus", Float, nullable=True),
    Column("gpus", Integer, nullable=True),
    Column("memory_mb", Integer, nullable=True),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)


# --- model registry (revision 0005) ----------------------------------------------------------

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=True),
    Column("tags", Text, nullable=False),  # JSON object
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Column("archived_at", BigInteger, nullable=True),
)

# A numbered version: the model bytes are the artifact ``digest`` (also listed among the
# run's artifacts at ``artifact_path``); params, metrics and environment are copied from the
# run at registration, so the record stands on its own.
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=False),
    Column("flavour", String(32), nullable=False),
    Column("artifact_path", String(1024), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("trusted_types", Text, nullable=False),  # JSON list: skops types allowed on load
    Column("signature", Text, nullable=False),  # JSON
    Column("environment", Text, nullable=False),  # JSON: python version and packages
    Column("params", Text, nullable=False),  # JSON
    Column("metrics", Text, nullable=False),  # JSON
    Column("tags", Text, nullable=False),  # JSON
    Column("description", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Column("archived_at", BigInteger, nullable=True),
    UniqueConstraint("model_id", "version", name="uq_model_versions_version"),
    Index("ix_model_versions_run", "run_id"),
)

# Where each alias points now; every move is also kept in alias_moves.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", ID, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)

alias_moves = Table(
    "alias_moves",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("from_version", Integer, nullable=True),  # None: the alias was new
    Column("to_version", Integer, nullable=True),  # None: the alias was removed
    Column("moved_at", BigInteger, nullable=False),
    Column("moved_by", String(256), nullable=False),
    Index("ix_alias_moves_model", "model_id", "alias", "moved_at"),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("requested_by", String(256), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open, approved, rejected
    Index("ix_approval_requests_version", "version_id"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("reviewer", String(256), nullable=False),
    Column("decision", String(16), nullable=False),  # approve or reject
    Column("comment", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_approvals_version", "version_id", "created_at"),
)

# --- serving: deployments, prediction log, feedback (revision 0006) --------------------------

# A version put into service on a target (an environment name); a newer deployment to the same
# target replaces the older one. ``approval_id`` is the approval that allowed it.
deployments = Table(
    "deployments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("target", String(128), nullable=False),
    Column("approval_id", ID, ForeignKey("approvals.id"), nullable=False),
    Column("status", String(16), nullable=False),  # active, replaced
    Column("comment", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Column("replaced_at", BigInteger, nullable=True),
    Index("ix_deployments_target", "target", "status"),
    Index("ix_deployments_version", "version_id"),
)

# One row per answered predict request, written by the model server in batches: the request
# body and the answer as they went over the wire (JSON), so logging costs no serialising and a
# 1,000-row request is one row. A packaged model served outside its registry has no version
# record here, hence no foreign key on version_id.
predictions = Table(
    "predictions",
    metadata,
    Column("request_id", ID, primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("version_id", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("inputs", Text, nullable=False),  # request body: {"records": ...} or {"columns": ...}
    Column("outputs", Text, nullable=False),  # the answer: predictions, probabilities, classes
    Index("ix_predictions_model_time", "model_name", "created_at"),
)

# Ground truth for a logged request, one label per row; sending it again corrects it.
feedback = Table(
    "feedback",
    metadata,
    Column("request_id", ID, ForeignKey("predictions.request_id"), primary_key=True),
    Column("labels", Text, nullable=False),  # JSON list, one per row
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
)

# --- evaluation (revision 0007) --------------------------------------------------------------

# One run of a suite on a model version and a dataset version: every check's result as JSON,
# the versions it was compared with and the HTML report.
evaluations = Table(
    "evaluations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("dataset_version_id", ID, ForeignKey("dataset_versions.id"), nullable=False),
    Column("suite_name", String(128), nullable=False),
    Column("suite_digest", String(64), nullable=False),  # sha256 of the suite's canonical JSON
    Column("suite", Text, nullable=False),  # JSON definition
    Column("passed", Boolean, nullable=False),
    Column("checks", Text, nullable=False),  # JSON list of check results
    Column("compared_with", Text, nullable=False),  # JSON: role -> ref and id
    Column("row_count", BigInteger, nullable=False),
    Column("report_digest", String(64), nullable=True),  # the HTML report in the artifact store
    Column("duration_ms", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Index("ix_evaluations_version", "version_id", "created_at"),
)

# The suite a model's versions must pass before they become champion or are deployed.
evaluation_policies = Table(
    "evaluation_policies",
    metadata,
    Column("model_id", ID, ForeignKey("registered_models.id"), primary_key=True),
    Column("suite_name", String(128), nullable=False),
    Column("suite", Text, nullable=False),  # JSON definition
    Column("suite_digest", String(64), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
)

# A gate passed by someone's word instead of a passing evaluation: who, why, and what failed.
evaluation_overrides = Table(
    "evaluation_overrides",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id"), nullable=False),
    Column("action", String(64), nullable=False),  # champion, deploy
    Column("reason", Text, nullable=False),
    Column("problem", Text, nullable=False),  # why the gate would have refused
    Column("evaluation_id", ID, ForeignKey("evaluations.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Index("ix_evaluation_overrides_version", "version_id", "created_at"),
)

# --- feature store (revision 0008) -----------------------------------------------------------

# Every applied version of an entity, feature view or feature service: ``spec`` is its JSON
# definition and ``digest`` the hash of it, so applying the same definition again is a no-op.
feature_definitions = Table(
    "feature_definitions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(32), nullable=False),  # entity, feature_view, feature_service
    Column("name", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("spec", Text, nullable=False),  # JSON
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    UniqueConstraint("kind", "name", "version", name="uq_feature_definitions_version"),
)

# Each window of a view's rows written to an online store; the last ``end_ms`` of a view
# version and store is the watermark incremental materialization starts from.
feature_materializations = Table(
    "feature_materializations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("view_id", ID, ForeignKey("feature_definitions.id"), nullable=False),
    Column("online_store", String(512), nullable=False),
    Column("start_ms", BigInteger, nullable=True),  # None: from the beginning
    Column("end_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Index("ix_feature_materializations_view", "view_id", "online_store", "end_ms"),
)

# --- monitoring (revision 0009) --------------------------------------------------------------

# The reference a model version is monitored against: a sample of its training data (Parquet in
# the artifact store, with the model's predictions on it), one per version.
monitoring_references = Table(
    "monitoring_references",
    metadata,
    Column("version_id", ID, ForeignKey("model_versions.id"), primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("source", String(256), nullable=False),  # dataset ref, or "frame"
    Column("rows", BigInteger, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("features", Text, nullable=False),  # JSON list of the model's input columns
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
)

# One evaluation of a model over a window of its prediction log; its figures are the rows of
# monitor_metrics, a time series per (model, metric name) at the window's end.
monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("window_start", BigInteger, nullable=True),
    Column("window_end", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # ok, drift, empty
    Column("summary", Text, nullable=False),  # JSON
    Column("report_digest", String(64), nullable=True),  # HTML report in the artifact store
    Column("json_digest", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    Index("ix_monitor_runs_model", "model_name", "created_at"),
)

monitor_metrics = Table(
    "monitor_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("monitor_runs.id"), primary_key=True),
    Column("name", String(256), primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("value", Float, nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_monitor_metrics_series", "model_name", "name", "at"),
)

# ``window`` (ms): the rule compares the mean of the metric over that span; none: the latest.
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_name", String(128), nullable=False),
    Column("name", String(128), nullable=False),
    Column("metric", String(256), nullable=False),
    Column("comparison", String(2), nullable=False),  # > >= < <=
    Column("threshold", Float, nullable=False),
    Column("window", BigInteger, nullable=True),
    Column("severity", String(16), nullable=False),  # info, warning, critical
    Column("webhook", String(1024), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("creator", String(256), nullable=False),
    UniqueConstraint("model_name", "name", name="uq_alert_rules_name"),
)

# One episode of a rule's condition holding: fired once, resolved when it stops holding.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("rule_id", ID, ForeignKey("alert_rules.id"), nullable=False),
    Column("model_name", String(128), nullable=False),
    Column("run_id", ID, ForeignKey("monitor_runs.id"), nullable=True),
    Column("value", Float, nullable=False),
    Column("status", String(16), nullable=False),  # firing, resolved
    Column("fired_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    Column("acked_at", BigInteger, nullable=True),
    Column("acked_by", String(256), nullable=True),
    # The firing notice's delivery, then the resolution notice's, each kept apart.
    Column("delivered_at", BigInteger, nullable=True),
    Column("delivery_error", Text, nullable=True),
    Column("resolution_delivered_at", BigInteger, nullable=True),
    Column("resolution_delivery_error", Text, nullable=True),
    Index("ix_alert_events_rule", "rule_id", "status"),
    Index("ix_alert_events_model", "model_name", "fired_at"),
)
