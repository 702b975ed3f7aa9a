"""Settings: environment, then $CAIRN_HOME/config.toml, then defaults; bad values named."""

from __future__ import annotations

import pytest

from cairn.core import settings
from cairn.errors import ConfigError


def test_defaults_live_under_cairn_home(cairn_home):
    s = settings()
    assert s.home == cairn_home
    assert s.uri == f"sqlite:///{cairn_home / 'cairn.db'}"
    assert s.artifacts == str(cairn_home / "artifacts")
    assert s.sources["uri"] == "default" and s.sources["home"] == "env CAIRN_HOME"


def test_home_defaults_to_dot_cairn_in_the_working_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("CAIRN_HOME")
    monkeypatch.chdir(tmp_path)
    assert settings().home == tmp_path / ".cairn"


def test_file_values_apply_and_environment_wins(cairn_home, monkeypatch):
    cairn_home.mkdir()
    (cairn_home / "config.toml").write_text('uri = "postgresql://db/x"\nuser = "ada"\n')
    s = settings()
    assert s.uri == "postgresql://db/x" and s.user == "ada"
    assert s.sources["uri"].startswith("file ")
    monkeypatch.setenv("CAIRN_USER", "grace")
    assert settings().user == "grace" and settings().sources["user"] == "env CAIRN_USER"


def test_unknown_setting_in_file_is_named(cairn_home):
    cairn_home.mkdir()
    (cairn_home / "config.toml").write_text('colour = "blue"\n')
    with pytest.raises(ConfigError) as caught:
        settings()
    assert caught.value.field == "colour"


def test_bad_boolean_is_named(monkeypatch):
    monkeypatch.setenv("CAIRN_AUTO_MIGRATE", "maybe")
    with pytest.raises(ConfigError) as caught:
        settings()
    assert caught.value.field == "auto_migrate" and caught.value.value == "maybe"
