"""Config hooks the site loader calls: device options per protocol, tag addresses, ``simulators:``.

The loader owns the site schema; this module only says what a Modbus or OPC UA
device's ``options`` may hold, whether a tag ``address`` makes sense for its
protocol and data type, and what the top-level ``simulators:`` section looks like.
"""

from __future__ import annotations

import re

from tagdb.site.schema import Bool, Duration, Field, Int, ListOf, MapOf, Number, Obj, Schema, Str

ORDERS = ("big", "little")

MODBUS_OPTIONS = Obj({
    "word_order": Field(Str(choices=ORDERS), default="big",
                        doc="order of 16-bit registers in 32/64-bit values (big = high word first)"),
    "byte_order": Field(Str(choices=ORDERS), default="big",
                        doc="order of the two bytes inside each register"),
    "max_gap": Field(Int(min=0, max=124), default=16,
                     doc="unused registers a read may span to merge two blocks into one request"),
    "max_bit_gap": Field(Int(min=0, max=1999), default=64,
                         doc="unused coils/inputs a read may span to merge two blocks"),
    "max_registers": Field(Int(min=1, max=125), default=125, doc="registers per read request"),
    "max_bits": Field(Int(min=1, max=2000), default=2000, doc="coils/inputs per read request"),
    "max_in_flight": Field(Int(min=1, max=16), default=1,
                           doc="requests of this device outstanding at once on its connection"),
    "backoff_initial": Field(Duration(min=0.01), default=0.5, doc="first reconnect delay"),
    "backoff_max": Field(Duration(min=0.01), default=30.0, doc="cap of the exponential reconnect delay"),
    "single_writes": Field(Bool(), default=True,
                           doc="FC 5/6 for one coil/register; false = always FC 15/16 (multiple-write devices)"),
    "zero_based": Field(Bool(), default=True,
                        doc="addresses are protocol (0-based) offsets; false = subtract 1 (1-based docs)"),
})

SECURITY_MODES = ("None", "Sign", "SignAndEncrypt")

OPCUA_OPTIONS = Obj({
    "namespace_uri": Field(Str(min_len=1), doc="default namespace URI for browse-path segments"),
    "namespace_uris": Field(ListOf(Str(min_len=1)), default=[],
                            doc="namespaces the server must offer; checked at connect"),
    "security_mode": Field(Str(choices=SECURITY_MODES), default="None"),
    "security_policy": Field(Str(choices=("Basic256Sha256",)), default="Basic256Sha256"),
    "username": Field(Str(min_len=1)),
    "password": Field(Str()),
    "certificate": Field(Str(min_len=1), doc="client certificate (PEM/DER); generated in the data folder when absent"),
    "private_key": Field(Str(min_len=1)),
    "server_certificate": Field(Str(min_len=1), doc="pin the server certificate (optional)"),
    "sampling_interval": Field(Duration(), default=0.5, doc="monitored item sampling interval"),
    "publishing_interval": Field(Duration(min=0.01), default=1.0, doc="subscription publishing interval"),
    "queue_size": Field(Int(min=1, max=10000), default=10, doc="monitored item queue size"),
    "watchdog_interval": Field(Duration(min=1.0), default=10.0,
                               doc="client keep-alive read period; long enough for a busy machine"),
    "session_timeout": Field(Duration(min=1.0), default=60.0),
    "backoff_initial": Field(Duration(min=0.01), default=0.5),
    "backoff_max": Field(Duration(min=0.01), default=30.0),
}, check_fn=lambda v, field, raw: _opcua_cross(v, field, raw))


def _opcua_cross(v: dict, field: str, raw) -> list:
    from tagdb.site.errors import ConfigError, Loc

    loc = getattr(raw, "loc", Loc("<none>"))
    errors = []
    if (v.get("username") is None) != (v.get("password") is None):
        errors.append(ConfigError(loc, f"{field}.username" if field else "username",
                                  "username and password go together"))
    if (v.get("certificate") is None) != (v.get("private_key") is None):
        errors.append(ConfigError(loc, f"{field}.certificate" if field else "certificate",
                                  "certificate and private_key go together"))
    return errors


#: Per-protocol schema of ``devices.<name>.options``; the loader validates with it.
DEVICE_OPTIONS: dict[str, Schema] = {
    "modbus": MODBUS_OPTIONS,
    "opcua": OPCUA_OPTIONS,
}

# ---------------------------------------------------------------------------------------------
# Tag addresses

MODBUS_ADDRESS = re.compile(r"^(hr|ir|co|di):(\d{1,5})(?:\.(\d{1,2}))?(?:\[(\d{1,3})\])?$")
REGISTERS = {"bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
             "int64": 4, "uint64": 4, "float64": 4}
_MODBUS_HINT = "use hr:N, ir:N, co:N, di:N, a register bit hr:N.B or a string hr:N[LEN]"

_NODE_ID = re.compile(r"^nsu=([^;]+);(s|i|g|b)=(.+)$")
_NS0_ID = re.compile(r"^i=\d+$")


def register_count(data_type: str, length: int | None) -> int:
    """Registers a value of ``data_type`` occupies (strings: their declared length)."""
    if data_type == "string":
        return length or 0
    return REGISTERS[data_type]


def check_modbus_address(address: str, data_type: str) -> str | None:
    """Why ``address`` cannot hold a ``data_type`` Modbus value, or None when it can."""
    m = MODBUS_ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if not m:
        return f"invalid Modbus address {address!r}: {_MODBUS_HINT}"
    table, offset, bit, length = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    if offset > 65535:
        return f"Modbus address {address!r}: offset {offset} is beyond 65535"
    if table in ("co", "di"):
        if data_type != "bool":
            return f"{table} (coil/discrete input) addresses hold bool values, not {data_type}"
        if bit is not None or length is not None:
            return f"{address!r}: coils and discrete inputs take no bit or length"
        return None
    if bit is not None:
        if data_type != "bool":
            return f"{address!r}: a register bit holds a bool, not {data_type}"
        if int(bit) > 15:
            return f"{address!r}: register bits are numbered 0..15"
        if length is not None:
            return f"{address!r}: a register bit takes no length"
        return None
    if data_type == "bool":
        return f"{address!r}: a bool in a register needs a bit number (e.g. {table}:{offset}.0)"
    if data_type == "string":
        if length is None or int(length) == 0:
            return f"{address!r}: a string needs its length in registers, e.g. {table}:{offset}[10]"
        if int(length) > 125:
            return f"{address!r}: a string may span at most 125 registers"
    elif length is not None:
        return f"{address!r}: only strings take a [length]"
    count = register_count(data_type, int(length) if length else None)
    if offset + count - 1 > 65535:
        return f"{address!r}: {data_type} spans past register 65535"
    return None


def check_opcua_address(address: str, data_type: str) -> str | None:
    """Why ``address`` is not a usable OPC UA node reference, or None."""
    if not isinstance(address, str) or not address.strip():
        return "an OPC UA address must be a node id (nsu=URI;s=NAME) or a browse path (/Objects/...)"
    a = address.strip()
    if a.startswith("ns="):
        return (f"{address!r}: namespace indexes differ between servers; "
                "write the namespace by URI, e.g. nsu=urn:vendor:elevators;s=Car1.Floor")
    if a.startswith("/"):
        parts = [p for p in a.split("/")]
        if any(not p for p in parts[1:]):
            return f"{address!r}: empty segment in browse path"
        return None
    m = _NODE_ID.match(a)
    if m:
        if m.group(2) == "i" and not m.group(3).isdigit():
            return f"{address!r}: i= takes a number"
        return None
    if _NS0_ID.match(a):
        return None
    return (f"invalid OPC UA address {address!r}: use nsu=<namespace uri>;s=<id> or ;i=<n>, "
            "or a browse path /Objects/Folder/Variable")


def check_address(protocol: str, address: str, data_type: str) -> str | None:
    """Error message for a tag address that cannot work with ``protocol``/``data_type``, else None."""
    if protocol == "modbus":
        return check_modbus_address(address, data_type)
    if protocol == "opcua":
        return check_opcua_address(address, data_type)
    return None


# ---------------------------------------------------------------------------------------------
# The top-level ``simulators:`` section

SIM_KINDS = ("elevators", "chillers", "ahus", "lighting", "parking", "meters")

def _one_target(v: dict, field: str, raw) -> list:
    from tagdb.site.errors import ConfigError, Loc

    loc = getattr(raw, "loc", Loc("<none>"))
    # Keep where the instance was written: validate_site sees only clean values, and its
    # errors must still name file and line.
    v["_loc"] = loc
    devices = raw.get("devices") if raw is not None else None
    v["_device_locs"] = [devices.loc_of(i) for i in range(len(devices))] if hasattr(devices, "loc_of") else []
    if (v.get("endpoint") is None) == (not v.get("devices")):
        return [ConfigError(loc, field, "give either endpoint (serve every device there) or devices")]
    return []


SIM_INSTANCE = Obj({
    "kind": Field(Str(choices=SIM_KINDS), required=True),
    "endpoint": Field(Str(pattern=r"(tcp|opc\.tcp)://[^/:]+:\d+(/.*)?", hint="tcp://HOST:PORT"),
                      doc="serve every site device at this endpoint (Modbus: one unit id each)"),
    "devices": Field(ListOf(Str(min_len=1), min_len=1),
                     doc="or: the devices served, all at one endpoint"),
    "enabled": Field(Bool(), default=True),
    "params": Field(MapOf(Number()), default={}, doc="kind-specific numeric parameters"),
    "users": Field(MapOf(Str()), default={}, doc="OPC UA simulators: username → password logins"),
    "anonymous": Field(Bool(), default=True, doc="OPC UA simulators: allow anonymous sessions"),
    "security": Field(Bool(), default=True,
                      doc="OPC UA simulators: also offer Basic256Sha256 Sign/SignAndEncrypt"),
}, check_fn=_one_target)


def _loopback_only(v: dict, field: str, raw) -> list:
    import ipaddress

    from tagdb.site.errors import ConfigError, Loc

    loc = getattr(raw, "loc", Loc("<none>"))
    address = v.get("address") or ""
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        at = raw.loc_of("address") if hasattr(raw, "loc_of") else loc
        return [ConfigError(at, f"{field}.address",
                            f"{address!r} is not a loopback IP address: the demo mail sink accepts mail from "
                            "anyone who reaches it, so it binds 127.0.0.1 (or another loopback address) only")]
    return []


MAIL_SINK = Obj({
    "address": Field(Str(min_len=1), default="127.0.0.1", doc="loopback address to listen on"),
    "port": Field(Int(min=1, max=65535), default=2525, doc="SMTP port (the demo's e-mail channel port)"),
    "port_env": Field(Str(min_len=1), doc="environment variable that overrides port (as the e-mail channel's)"),
    "max_size": Field(Int(min=1024), default=10 * 1024 * 1024,
                      doc="largest message accepted, in bytes; larger ones get SMTP 552"),
}, check_fn=_loopback_only)

SECTION = Obj({
    "enabled": Field(Bool(), default=True),
    "mail_sink": Field(MAIL_SINK, doc="demo SMTP server storing every message in <data_dir>/mail (absent: off)"),
    "seed": Field(Int(min=0), default=1, doc="random seed: the same seed replays the same day"),
    "time_scale": Field(Number(min=0.0, exclusive_min=True, max=3600), default=1.0,
                        doc="simulated seconds per real second (daily patterns run faster)"),
    "step": Field(Duration(min=0.01), default=1.0, doc="physics step period (real seconds)"),
    "start_hour": Field(Number(min=0, max=24), doc="simulated local hour at start (default: wall clock)"),
    "port_offset": Field(Int(min=-60000, max=60000), default=0,
                         doc="added to the port of every simulated device (simulators AND collectors)"),
    "instances": Field(MapOf(SIM_INSTANCE), default={}),
})


def served_devices(site, inst: dict) -> list:
    """The DeviceSpecs a simulator instance serves (by endpoint or by name; unknown names skipped)."""
    if inst.get("endpoint"):
        return [d for d in site.devices.values() if d.endpoint.rstrip("/") == inst["endpoint"].rstrip("/")]
    return [site.devices[n] for n in inst.get("devices") or () if n in site.devices]


def validate_site(site) -> list:
    """Cross-checks: simulators serve existing devices of the right protocol at one endpoint."""
    from tagdb.site.errors import ConfigError, Loc

    section = site.section("simulators")
    if not section:
        return []
    errors = []
    for name, inst in (section.get("instances") or {}).items():
        field = f"simulators.instances.{name}"
        loc = inst.get("_loc") or Loc("simulators")
        dlocs = inst.get("_device_locs") or []
        proto = "opcua" if inst["kind"] == "elevators" else "modbus"
        for i, dev_name in enumerate(inst.get("devices") or ()):
            if dev_name not in site.devices:
                errors.append(ConfigError(dlocs[i] if i < len(dlocs) else loc, f"{field}.devices[{i}]",
                                          f"unknown device {dev_name!r}"))
        devices = served_devices(site, inst)
        if not devices:
            errors.append(ConfigError(loc, field, "serves no device of the site"))
        for dev in devices:
            if dev.protocol != proto:
                errors.append(ConfigError(loc, field, f"a {inst['kind']} simulator serves {proto}, "
                                                      f"device {dev.name!r} is {dev.protocol}"))
        endpoints = {d.endpoint.rstrip("/") for d in devices}
        if len(endpoints) > 1:
            errors.append(ConfigError(loc, f"{field}.devices",
                                      f"devices of one simulator must share one endpoint, got {sorted(endpoints)}"))
        units = [d.unit_id for d in devices]
        if proto == "modbus" and len(units) != len(set(units)):
            errors.append(ConfigError(loc, field, "two devices of one endpoint share a unit id"))
    return errors
