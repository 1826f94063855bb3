"""The ``hmi:`` site section: where the operator HMI listens and how often it refreshes.

    hmi:
      address: 127.0.0.1        # bind address (never all interfaces unless configured)
      port: 5011
      refresh: 300ms            # push period of live values to each browser (250-500 ms)
      language: en              # en | zh: language of every screen (users may switch on the login page)
      banner_size: 3            # alarms shown in the banner on every page
      origins: []               # extra host:port names browsers may use to reach the HMI
"""

from __future__ import annotations

from tagdb.site.errors import ConfigError, Loc
from tagdb.site.schema import Bool, Duration, Field, Int, ListOf, Obj, Str

LANGUAGES = ("en", "zh")
MIN_REFRESH, MAX_REFRESH = 0.25, 0.5
DEFAULTS = {"enabled": True, "address": "127.0.0.1", "port": 5011, "refresh": 0.3, "language": "en",
            "title": "", "banner_size": 3, "origins": []}


def _check(clean: dict, field: str, raw) -> list[ConfigError]:
    refresh = clean.get("refresh")
    if refresh is not None and not MIN_REFRESH <= refresh <= MAX_REFRESH:
        loc = raw.loc_of("refresh") if raw is not None and hasattr(raw, "loc_of") else None
        return [ConfigError(loc or Loc("<hmi>"), f"{field}.refresh",
                            f"{refresh:g} s is outside {MIN_REFRESH:g}-{MAX_REFRESH:g} s (live values are pushed "
                            "in batches at this period)")]
    return []


SECTION = Obj({
    "enabled": Field(Bool(), default=True),
    "address": Field(Str(pattern=r"[A-Za-z0-9_.:\-\[\]]+", hint="a host name or IP address"),
                     default=DEFAULTS["address"]),
    "port": Field(Int(min=0, max=65535), default=DEFAULTS["port"], doc="0 picks a free port at start"),
    "refresh": Field(Duration(min=0.001), default=DEFAULTS["refresh"]),
    "language": Field(Str(choices=LANGUAGES), default=DEFAULTS["language"]),
    "title": Field(Str(), default=""),
    "banner_size": Field(Int(min=1, max=10), default=DEFAULTS["banner_size"]),
    "origins": Field(ListOf(Str(pattern=r"[A-Za-z0-9_.\-\[\]:]+", hint="host:port")), default=[]),
}, check_fn=_check)


def section_defaults(section: dict | None) -> dict:
    """The section with every default filled in (for sites built in code)."""
    out = dict(DEFAULTS)
    out.update({k: v for k, v in (section or {}).items() if v is not None})
    return out
