"""Deployments: only an approved version, recorded with its approval, in lineage."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import cairn
from cairn.cli import app
from cairn.datasets import CREDIT_FEATURES
from cairn.errors import Conflict, InvalidInput, PermissionDenied
from cairn.serving.deployments import deploy, list_deployments
from credit_models import credit_pipeline


@pytest.fixture
def versions(use_store, credit, monkeypatch) -> list[str]:
    """credit-risk/1 and /2, registered by ana."""
    monkeypatch.setenv("CAIRN_USER", "ana")
    refs = []
    for c in (1.0, 0.1):
        with cairn.start_run(experiment="deploy") as run:
            version = run.log_model(
                credit_pipeline(credit.head(400), C=c),
                name="credit-risk",
                input_example=credit[list(CREDIT_FEATURES)].head(),
            )
        refs.append(version.ref)
    return refs


def as_user(monkeypatch, user: str) -> None:
    monkeypatch.setenv("CAIRN_USER", user)


def test_an_unapproved_or_rejected_version_is_refused(versions, monkeypatch):
    with pytest.raises(PermissionDenied, match="not been approved") as caught:
        deploy(versions[0])
    assert caught.value.field == "ref" and "request-approval" in caught.value.message
    as_user(monkeypatch, "ben")
    cairn.registry.reject(versions[0], "too weak")
    with pytest.raises(PermissionDenied, match="rejected"):
        deploy(versions[0])
    assert list_deployments() == []


def test_an_approved_version_is_deployed_with_who_when_and_which_approval(versions, monkeypatch):
    as_user(monkeypatch, "ben")
    approval = cairn.registry.approve(versions[0], "looks right")
    as_user(monkeypatch, "cy")
    done = deploy(versions[0], comment="first release")
    assert (done.ref, done.target, done.status) == ("credit-risk/1", "production", "active")
    assert done.creator == "cy" and done.approval_id == approval.id and done.approved_by == "ben"
    assert list_deployments() == [done]
    lineage = cairn.registry.lineage(versions[0])
    assert lineage["deployments"] == [{"id": done.id, "target": "production", "status": "active"}]


def test_a_new_deployment_replaces_the_target_s_previous_one(versions, monkeypatch):
    as_user(monkeypatch, "ben")
    for ref in versions:
        cairn.registry.approve(ref)
    first = deploy(versions[0])
    staging = deploy(versions[0], target="staging")
    second = deploy(versions[1])
    active = list_deployments(active_only=True)
    assert {(d.ref, d.target) for d in active} == {
        ("credit-risk/2", "production"),
        ("credit-risk/1", "staging"),
    }
    replaced = [d for d in list_deployments(target="production") if d.id == first.id][0]
    assert replaced.status == "replaced" and replaced.replaced_at is not None
    assert [d.id for d in list_deployments(model="credit-risk", target="production")] == [
        second.id,
        first.id,
    ]
    assert staging.status == "active"


def test_bad_target_and_archived_versions_are_refused(versions, monkeypatch):
    as_user(monkeypatch, "ben")
    cairn.registry.approve(versions[0])
    with pytest.raises(InvalidInput) as caught:
        deploy(versions[0], target="Prod Env")
    assert caught.value.field == "target"
    cairn.registry.archive_version(versions[0])
    with pytest.raises(Conflict, match="archived"):
        deploy(versions[0])


def test_cli_deploy_and_deployments(versions, monkeypatch):
    runner = CliRunner()
    refused = runner.invoke(app, ["deploy", versions[0]])
    assert refused.exit_code != 0
    as_user(monkeypatch, "ben")
    cairn.registry.approve(versions[0])
    done = runner.invoke(app, ["deploy", versions[0], "-m", "go"])
    assert done.exit_code == 0, done.output
    assert "credit-risk/1" in done.output and "ben" in done.output
    listed = runner.invoke(app, ["deployments", "--json"])
    assert '"target": "production"' in listed.output and '"comment": "go"' in listed.output
    lineage = runner.invoke(app, ["models", "lineage", versions[0]])
    assert "deployed to production (active)" in lineage.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["credit-risk/1", "--poll", "0"], "poll"),
        (["credit-risk/1", "--max-rows", "0"], "max-rows"),
        (["credit-risk/1", "--model-threads", "0"], "model-threads"),
        (["credit-risk/9"], "credit-risk/9"),
        (["no such model!"], "ref"),
    ],
)
def test_cli_serve_refuses_bad_options_before_listening(versions, args, words):
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "serve", *args, "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stdout + done.stderr
