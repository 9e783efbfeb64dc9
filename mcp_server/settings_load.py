"""Read :class:`~mcp_server.settings.Settings` from the environment; a bad value becomes one readable
message naming the variable the user set, the cause and the fix (never a traceback)."""

from __future__ import annotations

import json
import os
import re

from pydantic import AliasChoices, ValidationError
from pydantic_settings import SettingsError as DecodeError

from mcp_server.settings import ENV_PREFIX, Settings


class SettingsError(Exception):
    """Invalid configuration; the message names the environment variable and what to do."""


def env_names(field_name: str) -> list[str]:
    """The environment variables a field is read from, in order (e.g. REDIS_URL, PERSONAS_REDIS_URL)."""
    field = Settings.model_fields.get(field_name)
    alias = field.validation_alias if field is not None else None
    if isinstance(alias, AliasChoices):
        names = [choice for choice in alias.choices if isinstance(choice, str)]
        if names:
            return names
    return [f"{ENV_PREFIX}{field_name.upper()}"]


def env_var_for(field_name: str) -> str:
    """The variable to name for a field: the one set in the environment, else the documented one."""
    names = env_names(field_name)
    set_names = {name.upper() for name in os.environ}
    return next((name for name in names if name.upper() in set_names), names[0])


def _field_of(loc: str) -> str:
    """The field an error location names: a field name, or one of its aliases (pydantic reports the alias)."""
    if loc in Settings.model_fields:
        return loc
    for name in Settings.model_fields:
        if loc.upper() in (alias.upper() for alias in env_names(name)):
            return name
    return loc


_USERINFO_PASSWORD = re.compile(r":[^:@/\s]*@")
_DECODE_FIELD = re.compile(r'field "(\w+)"')


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning validation errors into one readable message."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = _field_of(str(error["loc"][0])) if error["loc"] else "?"
            value = error.get("input")
            secret = field in Settings.model_fields and "SecretStr" in str(Settings.model_fields[field].annotation)
            if isinstance(value, str):
                value = _USERINFO_PASSWORD.sub(":***@", value)  # 'redis//:pw@host' is a typo, not a secret to print
            shown = "" if isinstance(value, dict) or secret else f"={value!r}"  # never echo a password or key
            lines.append(f"  {env_var_for(field)}{shown}: {error['msg']}")
        raise _invalid(lines) from exc
    except DecodeError as exc:  # pydantic-settings could not decode a JSON value (e.g. PERSONAS_RULES_DOMAINS)
        match = _DECODE_FIELD.search(str(exc))
        variable = env_var_for(match.group(1)) if match else "a JSON-valued variable"
        cause = exc.__cause__
        why = (
            f"not valid JSON ({cause.msg}, at character {cause.pos})"
            if isinstance(cause, json.JSONDecodeError)
            else str(exc)
        )
        raise _invalid([f'  {variable}: {why}; write a JSON object, e.g. \'{{"AGENTS.md": "general"}}\'']) from exc
    if not settings.project_root.is_dir():  # else every path under it fails later, naming the wrong thing
        problem = "is not a folder" if settings.project_root.exists() else "does not exist"
        raise _invalid(
            [
                f"  PERSONAS_PROJECT_ROOT={str(settings.project_root)!r}: {problem}; set it to the project's folder, "
                "or unset it to use the current directory"
            ]
        )
    return settings


def _invalid(lines: list[str]) -> SettingsError:
    return SettingsError(
        "Invalid configuration:\n" + "\n".join(lines) + "\nFix or unset these environment variables "
        "(see the Configuration table in README.md)."
    )
