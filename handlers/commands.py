"""The chat command table (data/commands.json): names, aliases, roles, menu texts and usage lines.

`command_list(role, lang)` is what a channel registers with setMyCommands for that role's scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

COMMANDS_FILE = Path(__file__).resolve().parent.parent / "data" / "commands.json"
ROLES = ("citizen", "official", "admin")  # each role may use the commands of the roles before it


@dataclass(frozen=True)
class Command:
    name: str
    role: str
    menu: bool
    aliases: tuple[str, ...]
    description: dict[str, str]
    usage: dict[str, str]

    def describe(self, lang: str) -> str:
        return self.description.get(lang) or self.description["vi"]

    def usage_line(self, lang: str) -> str:
        return self.usage.get(lang) or self.usage["vi"]


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, Command], dict[str, Command]]:
    data = json.loads(COMMANDS_FILE.read_text(encoding="utf-8"))
    by_name: dict[str, Command] = {}
    by_word: dict[str, Command] = {}
    for raw in data["commands"]:
        if raw["role"] not in ROLES:
            raise ValueError(f"commands.json: unknown role {raw['role']!r} for /{raw['command']}")
        command = Command(raw["command"], raw["role"], bool(raw.get("menu", True)),
                          tuple(raw.get("aliases", ())), raw["description"], raw["usage"])
        by_name[command.name] = command
        for word in (command.name, *command.aliases):
            if word in by_word:
                raise ValueError(f"commands.json: /{word} is defined twice")
            by_word[word] = command
    return by_name, by_word


def commands() -> dict[str, Command]:
    """Every command by its main name, in the file's order."""
    return _table()[0]


def lookup(word: str) -> Command | None:
    """The command a typed name (main name or alias, any case) stands for."""
    return _table()[1].get(word.lower())


def allowed(command: Command, role: str) -> bool:
    return ROLES.index(role) >= ROLES.index(command.role)


def command_list(role: str, lang: str = "vi") -> list[tuple[str, str]]:
    """(command, description) pairs for the menu of `role`: its own commands and those below it."""
    return [(c.name, c.describe(lang)) for c in commands().values() if c.menu and allowed(c, role)]


def names_for_role(role: str) -> list[str]:
    """The commands that need exactly `role` (e.g. every admin command, for refusal tests)."""
    return [c.name for c in commands().values() if c.role == role]
