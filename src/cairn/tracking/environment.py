"""What a run captures about where it ran: source file, git state, Python and its packages.

Captured once per process and cached: the answers do not change while a process lives, and
asking git and importlib for every run would cost more than the run's own records.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Environment:
    python_version: str
    platform: str
    packages: dict[str, str]

    @functools.cached_property
    def packages_json(self) -> str:
        return json.dumps(self.packages, sort_keys=True, separators=(",", ":"))

    @functools.cached_property
    def digest(self) -> str:
        text = f"{self.python_version}\n{self.platform}\n{self.packages_json}"
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class GitState:
    commit: str | None
    dirty: bool | None


@functools.cache
def environment() -> Environment:
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return Environment(
        platform.python_version(), platform.platform(), dict(sorted(packages.items()))
    )


def source_file() -> str | None:
    """The script or module that started this process; None in an interactive session."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else None)
    if not path or path in {"-c", "-"}:
        return None
    return str(Path(path).resolve())


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


@functools.cache
def git_state(directory: str) -> GitState:
    """Commit and dirty flag of the repository holding ``directory``; None when not in one."""
    cwd = Path(directory)
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return GitState(None, None)
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    return GitState(commit.strip(), None if status is None else bool(status.strip()))


def current_git_state() -> GitState:
    source = source_file()
    return git_state(str(Path(source).parent) if source else str(Path.cwd()))


@functools.cache
def host() -> str:
    return socket.gethostname()
