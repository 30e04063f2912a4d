"""Errors of verify: one root, subclasses that carry their data and their exit code."""

from __future__ import annotations

from collections.abc import Sequence

# Exit codes shared by the commands (see DESIGN.md).
EXIT_OK = 0
EXIT_DIFFERENCES = 1
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class VerifyError(Exception):
    """Root of every error verify reports to a user; `exit_code` is what the CLI returns."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(VerifyError):
    """A command was called with options that do not fit together."""


class MappingError(VerifyError):
    """A mapping (or policy) file is broken; carries every problem found, each with its line."""

    MAX_SHOWN = 20

    def __init__(self, path: str, problems: Sequence[tuple[int | None, str]]) -> None:
        self.path = path
        self.problems = list(problems)
        shown = [
            f"{path}:{line}: {text}" if line else f"{path}: {text}"
            for line, text in self.problems[: self.MAX_SHOWN]
        ]
        if len(self.problems) > self.MAX_SHOWN:
            shown.append(f"… and {len(self.problems) - self.MAX_SHOWN} more")
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} {noun} in {path}:\n  " + "\n  ".join(shown))


class SourceError(VerifyError):
    """A source URL is wrong, unreachable, or does not hold what the mapping names.

    `reason` is the database's own words (masked, one line) where a query failed, so that
    the caller that knows which entity it was reading can say so.
    """

    def __init__(self, message: str, url_masked: str | None = None, reason: str | None = None) -> None:
        self.url_masked = url_masked
        self.reason = reason
        super().__init__(message)


class RunError(VerifyError):
    """A run started but could not complete (a segment failed, a server went away)."""

    exit_code = EXIT_INCOMPLETE


class RunDirError(VerifyError):
    """A run directory is missing, corrupt or unwritable."""
