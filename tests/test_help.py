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


@pytest.mark.slow
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


COMMANDS = [(), ("compare",), ("score",), ("check",), ("report",), ("merge",), ("demo",), ("metrics",), ("weights",),
            ("weights", "status"), ("weights", "download"), ("weights", "import"), ("weights", "verify")]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "imgloss")
def test_no_type_placeholders_in_any_help(command: tuple[str, ...], help_text) -> None:
    text = help_text(*command)
    found = re.findall(r"<(?:bool|path|str|int|float|list[^>]*|int range|file|dir)>", text)
    assert found == [], f"imgloss {' '.join(command)} --help shows {found}:\n{text}"
    help_line = next(line for line in text.splitlines() if "--help" in line)
    assert re.match(r"│ --help +-h +Show this message", help_line), help_line


@pytest.mark.parametrize(("command", "rows"), [
    (("compare",), [r"REFERENCE +PATH ", r"CANDIDATE +PATH "]),
    (("check",), [r"GOLDEN +PATH ", r"CANDIDATE +PATH "]),
    (("report",), [r"RESULTS +PATH "]),
    (("merge",), [r"PARTS +PATH\.\.\. "]),
    (("weights", "import"), [r"FILE +PATH "]),
    (("weights", "download"), [r"BACKBONE +One of"]),
])
def test_arguments_show_their_name_and_path_kind(command: tuple[str, ...], rows: list[str], help_text) -> None:
    text = help_text(*command)
    for row in rows:
        assert re.search(row, text), f"{row!r} not in:\n{text}"
