"""Configuration errors: every one names the file, line and field it is about."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value came from: a file and a 1-based line (0 when unknown)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in a configuration file."""

    loc: Loc
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.loc}: {self.field}: {self.message}" if self.field else f"{self.loc}: {self.message}"


@dataclass(frozen=True, slots=True)
class EnvReferenceError(ConfigError):
    """An environment reference that cannot be answered (unset variable, malformed ``${...}``)."""


class SiteConfigError(Exception):
    """Raised when a site does not load; carries every error found, not just the first."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))
