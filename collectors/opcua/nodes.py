"""Resolving tag addresses to NodeIds (namespaces by URI) and coercing written values."""

from __future__ import annotations

import re

from asyncua import ua

from ..errors import EncodeError

_NSU = re.compile(r"^nsu=([^;]+);(s|i|g|b)=(.+)$")

#: site data type → OPC UA variant type, for values written to nodes of unknown type
VARIANTS = {"bool": ua.VariantType.Boolean, "int16": ua.VariantType.Int16, "uint16": ua.VariantType.UInt16,
            "int32": ua.VariantType.Int32, "uint32": ua.VariantType.UInt32, "int64": ua.VariantType.Int64,
            "uint64": ua.VariantType.UInt64, "float32": ua.VariantType.Float, "float64": ua.VariantType.Double,
            "string": ua.VariantType.String}
_INT_BITS = {ua.VariantType.SByte: (True, 8), ua.VariantType.Byte: (False, 8), ua.VariantType.Int16: (True, 16),
             ua.VariantType.UInt16: (False, 16), ua.VariantType.Int32: (True, 32), ua.VariantType.UInt32: (False, 32),
             ua.VariantType.Int64: (True, 64), ua.VariantType.UInt64: (False, 64)}


class NamespaceError(LookupError):
    """A namespace URI the server does not offer."""


def _identifier(kind: str, text: str):
    if kind == "i":
        return int(text)
    if kind == "g":
        import uuid

        return uuid.UUID(text)
    if kind == "b":
        return text.encode()
    return text


def node_id(address: str, namespaces: list[str]) -> ua.NodeId:
    """``nsu=URI;s=...`` / ``i=N`` → NodeId using the server's namespace array."""
    m = _NSU.match(address.strip())
    if m:
        uri = m.group(1)
        if uri not in namespaces:
            raise NamespaceError(f"the server offers no namespace {uri!r}")
        return ua.NodeId(_identifier(m.group(2), m.group(3)), namespaces.index(uri))
    if address.startswith("i="):
        return ua.NodeId(int(address[2:]), 0)
    raise ValueError(f"not a node id: {address!r}")


def browse_path(address: str, namespaces: list[str], default_uri: str | None) -> list[str]:
    """``/Objects/Folder/Var`` → qualified names for ``Node.get_child`` (ns 0 for standard folders)."""
    parts = [p for p in address.strip().split("/") if p]
    default = namespaces.index(default_uri) if default_uri in namespaces else None
    out = []
    for i, part in enumerate(parts):
        if i == 0 and part in ("Objects", "Types", "Views"):
            out.append(f"0:{part}")
        elif default is not None:
            out.append(f"{default}:{part}")
        else:
            out.append(part)
    return out


def coerce(value, vt: ua.VariantType) -> ua.Variant:
    """``value`` as a Variant of the node's type; EncodeError when it cannot be represented."""
    if isinstance(value, bool) and vt is not ua.VariantType.Boolean and vt not in _INT_BITS:
        raise EncodeError(f"a boolean cannot be written to a {vt.name} node")
    if vt is ua.VariantType.Boolean:
        if isinstance(value, bool) or value in (0, 1):
            return ua.Variant(bool(value), vt)
        raise EncodeError(f"{value!r} is not a boolean")
    if vt in _INT_BITS:
        if isinstance(value, str) or (isinstance(value, float) and not value.is_integer()):
            raise EncodeError(f"{value!r} is not a whole number for a {vt.name} node")
        signed, bits = _INT_BITS[vt]
        v = int(value)
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if not lo <= v <= hi:
            raise EncodeError(f"{v} is out of range for {vt.name} ({lo}..{hi})")
        return ua.Variant(v, vt)
    if vt in (ua.VariantType.Float, ua.VariantType.Double):
        if isinstance(value, str):
            raise EncodeError(f"{value!r} is not a number")
        return ua.Variant(float(value), vt)
    if vt is ua.VariantType.String:
        return ua.Variant(str(value), vt)
    return ua.Variant(value, vt)
