"""One hierarchy of errors for the planner.

A :class:`PlannerError` is a *user's* problem (bad scenario, bad data file,
infeasible constraints): the CLI prints its message without a traceback and
exits with the error's ``exit_code``. Anything else escaping the library is our
bug and keeps its traceback (exit code 3).

Exit codes of the ``planner`` command (also in ``planner --help`` and the README):

====  =====================================================================
0     ok
1     the input needs fixing: scenario, data file, results folder
      (:class:`ConfigError`, :class:`DataError`, :class:`OutputError`)
2     the command line itself is wrong (unknown option, missing argument:
      Click's usage errors)
3     an internal error: a bug in the planner (the traceback is printed)
4     the constraints cannot all hold (:class:`InfeasibleError`)
130   interrupted (Ctrl-C); nothing was written for the run
====  =====================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2  # Click's own code for usage errors; never used by a PlannerError
EXIT_INTERNAL = 3
EXIT_INFEASIBLE = 4
EXIT_INTERRUPTED = 130

#: one line per exit code, for ``planner --help`` and the docs
EXIT_CODES = {
    EXIT_OK: "ok",
    EXIT_INPUT: "the input needs fixing (scenario, data file or results folder; the message says where)",
    EXIT_USAGE: "the command line is wrong (unknown option, missing argument)",
    EXIT_INTERNAL: "internal error, a bug in the planner (please report it with the traceback)",
    EXIT_INFEASIBLE: "the constraints cannot all hold (the message names the scenario keys)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C): nothing was written for this run",
}


class PlannerError(Exception):
    """Base class for errors caused by the user's input. Exit code 1."""

    exit_code = EXIT_INPUT

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
    """The constraints cannot all hold; the message names the keys involved. Exit code 4.

    (Not 2: Click reports usage errors with 2, and a script must tell the two apart.)
    """

    exit_code = EXIT_INFEASIBLE


class OutputError(PlannerError):
    """The results folder cannot be written (read-only, disk full, ...)."""
