"""--help reads well at 80 columns: panels, choices as choices, no <bool>/<str>
placeholders on declared options, [tool.imgloss] not eaten by markup, completion on."""
from __future__ import annotations

import re

import pytest
from imgloss.options import CHECK, COMPARE, OPTIONS


@pytest.fixture(scope="session")
def help_text(invoke):
    """``help_text("compare", columns=80)``: the stdout of ``imgloss compare --help`` at that width."""
    def run(*command: str, columns: int = 80) -> str:
        result = invoke(*command, "--help", env={"COLUMNS": str(columns), "TERM": "dumb"})
        assert result.exit_code == 0, result.output
        return result.stdout
    return run


@pytest.mark.parametrize(("command", "names"), [("compare", COMPARE), ("check", CHECK)])
def test_panels_choices_and_no_placeholders(command: str, names: tuple[str, ...], help_text) -> None:
    text = help_text(command, columns=240)  # wide enough that no choice list folds
    panels = {OPTIONS[name].panel for name in names}
    for panel in panels:
        assert f"─ {panel} " in text, panel
    for name in names:
        option = OPTIONS[name]
        line = next(line for line in text.splitlines() if re.match(rf"│ +{re.escape(option.flag)}(\s|$)", line))
        if option.choices:
            assert "|".join(option.choices) in line, line
        assert not re.search(r"<(bool|str|int|path|list\[str\])>|int range", line), line
    assert "[tool.imgloss]" in text
    assert max(len(line) for line in help_text(command).splitlines()) <= 80


def test_metric_help_names_the_metrics_command(help_text) -> None:
    assert "imgloss metrics" in " ".join(help_text("compare").split())


def test_shell_completion_is_on(help_text) -> None:
    text = help_text()
    assert "--install-completion" in text and "--show-completion" in text
