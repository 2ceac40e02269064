"""One hierarchy of errors for the planner.

A :class:`PlannerError` is a *user's* problem (bad scenario, bad data file,
infeasible constraints): the CLI prints its message without a traceback and
exits with the error's ``exit_code``. Anything else escaping the library is our
bug and keeps its traceback (exit code 3).
"""

from __future__ import annotations


class PlannerError(Exception):
    """Base class for errors caused by the user's input. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        body = "\n".join(f"  - {p}" for p in self.problems)
        return f"{self.message}\n{body}"


class ConfigError(PlannerError):
    """A scenario file or override is invalid (names file and key path)."""


class DataError(PlannerError):
    """A data file is missing, unreadable or inconsistent (names file, column, row)."""


class InfeasibleError(PlannerError):
    """The constraints cannot all hold; the message names the keys involved. Exit code 2."""

    exit_code = 2


class OutputError(PlannerError):
    """The results folder cannot be written (read-only, disk full, ...)."""
