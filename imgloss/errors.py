"""The domain exceptions of imgloss and the exit code each one maps to.

Library code raises these (never prints, never exits); ``cli.py`` turns them into one
line on stderr and the exit code of design.md: 2 usage, 3 inputs, 4 weights; and 5 when
an output could not be written after the work (the results were kept elsewhere).
Interrupted runs exit 128 + the signal: 130 (SIGINT), 143 (SIGTERM).
Argument errors in the tensor API are plain ``ValueError`` / ``TypeError``.
"""
from __future__ import annotations

from imgloss.report.names import display

#: Exit codes that no exception carries: all good, and a check that found a regression.
EXIT_OK, EXIT_FAILED_CHECK = 0, 1


class ImglossError(Exception):
    """Base of every expected failure; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(ImglossError):
    """A bad option or combination of options (exit code 2)."""

    exit_code = 2


class InputError(ImglossError):
    """An input file that cannot be read, decoded or paired (exit code 3).

    ``path`` names the offending file; ``reason`` is a short human phrase. The message
    shows the path with control characters escaped (:func:`imgloss.report.names.display`),
    so a hostile file name cannot break the one line or reach the terminal raw.
    """

    exit_code = 3

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{display(self.path)}: {reason}")


class WeightsError(ImglossError):
    """VGG weights missing, corrupt or unverifiable (exit code 4)."""

    exit_code = 4


class OutputError(ImglossError):
    """An output file (or stdout) failed after the work (exit code 5); the message says
    where the results were kept instead (a fallback file, or stdout)."""

    exit_code = 5


class UnknownMetricError(UsageError, ValueError):
    """A metric or preset name that the registry does not know."""
