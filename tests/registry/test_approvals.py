"""Review before deploy: requests, decisions by a second person, separation of duties."""

from __future__ import annotations

import pytest

import cairn
import cairn.registry as registry
from cairn.errors import CairnError, InvalidInput, NotFound, PermissionDenied

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def version(monkeypatch, credit_model, features):
    monkeypatch.setenv("CAIRN_USER", "ana")
    with cairn.start_run(experiment="credit") as run:
        made = run.log_model(credit_model, name="credit-risk", input_example=features.head())
    return made


def test_author_cannot_approve_own_version(version):
    with pytest.raises(PermissionDenied, match="ana") as caught:
        registry.approve(version.ref)
    assert isinstance(caught.value, CairnError) and caught.value.http_status == 403
    assert not registry.is_approved(version)


def test_run_creator_cannot_approve_a_version_someone_else_registered(
    monkeypatch, credit_model, features
):
    monkeypatch.setenv("CAIRN_USER", "ana")
    with cairn.start_run(experiment="credit") as run:
        pass
    monkeypatch.setenv("CAIRN_USER", "bo")
    made = registry.register(run.id, "m", model=credit_model, input_example=features.head())
    monkeypatch.setenv("CAIRN_USER", "ana")
    with pytest.raises(PermissionDenied):
        registry.approve(made.ref)


def test_request_then_second_person_approves(version, monkeypatch):
    request = registry.request_approval(version.ref)
    assert request.status == "open" and request.requested_by == "ana"
    assert registry.request_approval(version.ref).id == request.id  # not duplicated
    monkeypatch.setenv("CAIRN_USER", "bo")
    approval = registry.approve("credit-risk@latest", comment="looks good")
    assert (approval.reviewer, approval.decision, approval.comment) == (
        "bo",
        "approve",
        "looks good",
    )
    assert registry.is_approved(version)
    service = registry.registry_service()
    from cairn.registry.approvals import requests_of

    assert [r.status for r in requests_of(service, version.ref)] == ["approved"]
    assert registry.lineage(version.ref)["approvals"][0]["reviewer"] == "bo"


def test_latest_decision_counts_and_author_may_reject(version, monkeypatch):
    monkeypatch.setenv("CAIRN_USER", "bo")
    registry.approve(version.ref)
    monkeypatch.setenv("CAIRN_USER", "cy")
    registry.reject(version.ref, comment="fails fairness")
    assert not registry.is_approved(version.ref)
    monkeypatch.setenv("CAIRN_USER", "ana")
    registry.reject(version.ref, comment="withdrawn")  # rejecting one's own work is allowed
    assert [a.decision for a in registry.approvals_of(version.ref)] == [
        "approve",
        "reject",
        "reject",
    ]


def test_bad_decision_and_unknown_version(version):
    from cairn.registry.approvals import review

    with pytest.raises(InvalidInput, match="maybe"):
        review(registry.registry_service(), version.ref, "maybe")
    with pytest.raises(NotFound, match="credit-risk/5"):
        registry.request_approval("credit-risk/5")
