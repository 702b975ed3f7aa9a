"""Amounts of machine: what a step or a job asks for, what a worker or a team has free."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cairn.errors import InvalidInput


@dataclass(frozen=True)
class Resources:
    """cpus, gpus and memory in MB (0: none asked for). Build requests with ``request``."""

    cpus: float = 1.0
    gpus: int = 0
    memory_mb: int = 0

    @classmethod
    def request(cls, cpus: float = 1, gpus: int = 0, memory_mb: int | None = None) -> Resources:
        """A checked request: cpus above 0, whole gpus, memory in MB above 0 or None."""
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
            raise InvalidInput.for_field("cpus", cpus, "a number of cpus above 0")
        if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
            raise InvalidInput.for_field("gpus", gpus, "a whole number of gpus, 0 or more")
        if memory_mb is not None and (
            isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or memory_mb <= 0
        ):
            raise InvalidInput.for_field("memory_mb", memory_mb, "megabytes above 0, or None")
        return cls(float(cpus), gpus, memory_mb or 0)

    def fits_in(self, free: Resources) -> bool:
        return (
            self.cpus <= free.cpus and self.gpus <= free.gpus and self.memory_mb <= free.memory_mb
        )

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpus + other.cpus, self.gpus + other.gpus, self.memory_mb + other.memory_mb
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpus - other.cpus, self.gpus - other.gpus, self.memory_mb - other.memory_mb
        )


NOTHING = Resources(0.0, 0, 0)


def machine_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit we can tell
        return 1 << 40


def machine_capacity() -> Resources:
    """All of this machine: its cpus and memory, no gpus unless told."""
    return Resources(float(os.cpu_count() or 1), 0, machine_memory_mb())
