"""The ``server:`` site section: the tag server's REST API (and later the HMI listener).

    server:
      api:
        address: 127.0.0.1        # default; never all interfaces unless you mean it
        port: 8080
        anonymous_read: false     # optional; default: true only while no tokens/users exist
        tokens:
          <a long random token>: {user: scada-gateway, permissions: [tags.read, tags.write]}
"""

from __future__ import annotations

from ..site.schema import Bool, Field, Int, ListOf, MapOf, Obj, Str

PERMISSION = Str(pattern=r"\*|[a-z_]+(\.[a-z_*]+)*", hint="a permission such as tags.read, tags.write or *")

TOKEN = Obj({
    "user": Field(Str(min_len=1), required=True),
    "permissions": Field(ListOf(PERMISSION), default=["tags.read"]),
    "roles": Field(ListOf(Str(min_len=1)), default=["api"]),
})

API = Obj({
    "address": Field(Str(min_len=1), default="127.0.0.1"),
    "port": Field(Int(min=1, max=65535), default=8080),
    "tokens": Field(MapOf(TOKEN, key_pattern=r"[A-Za-z0-9_\-.~+/=]{16,}",
                          key_hint="at least 16 characters of letters, digits and -._~+/="), default={}),
    # Unset: reads are open only while no tokens (and no user database) exist; see tagdb/api/auth.py.
    "anonymous_read": Field(Bool()),
})

API_DEFAULTS = {"address": "127.0.0.1", "port": 8080, "tokens": {}}

SECTION = Obj({
    "api": Field(API, default=API_DEFAULTS),
})
