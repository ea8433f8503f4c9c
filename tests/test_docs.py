"""Every bot command is wired, listed in /help, and documented in the README (and nothing else is)."""

import re

from bot.telegram.app import HANDLERS
from bot.telegram.render import COMMANDS
from tests.conftest import ROOT


def test_every_handled_command_is_in_help_and_the_other_way_round() -> None:
    assert list(HANDLERS) == [c.name for c in COMMANDS]


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `/([a-z_]+)", readme, flags=re.MULTILINE))
    assert documented == set(HANDLERS)


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
