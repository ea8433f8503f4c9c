"""Every bot command is wired, listed in /help, and documented in the README (and nothing else is); so
is every environment variable the code reads."""

import re

import pytest

from bot.cli import main
from bot.config import environment_variables
from bot.telegram.app import HANDLERS
from bot.telegram.render import COMMANDS
from tests.conftest import ROOT


def test_every_handled_command_is_in_help_and_the_other_way_round() -> None:
    assert list(HANDLERS) == [c.name for c in COMMANDS]


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `/([a-z_]+)", readme, flags=re.MULTILINE))
    assert documented == set(HANDLERS)


def test_the_readmes_two_commands_are_make_targets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), f"no `{target}` target in the Makefile"


def test_every_cli_command_in_the_readme_exists_and_each_one_is_documented(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.venv/bin/python -m bot ([a-z]+)", readme, flags=re.MULTILINE))
    for command in documented:
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0, command
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = re.search(r"\{([a-z,]+)\}", capsys.readouterr().out)
    assert listed is not None and set(listed.group(1).split(",")) == documented


def _readme_variables() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", readme, flags=re.MULTILINE))


def test_every_environment_variable_the_configuration_reads_is_in_the_readme_and_only_those() -> None:
    assert _readme_variables() == set(environment_variables())


def test_nothing_but_the_configuration_reads_the_environment() -> None:
    """Modules get settings passed in; only the entry point hands os.environ to load_settings."""
    readers = re.compile(r"os\.environ|getenv|environ\[|environ\.get")
    found = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if readers.search(line) and path.name != "config.py" and "load_settings(" not in line:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
