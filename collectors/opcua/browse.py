"""Browsing an OPC UA server into site tag configuration (``spms tags browse``).

Variables under the start node become tags: the path from their browse names
(snake_case, lower case), the type from their DataType, ``rw`` when the server
says the current user may write, the address by namespace URI (never by index).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asyncua import Client, ua

from .nodes import NamespaceError, browse_path, node_id

TYPES = {ua.VariantType.Boolean: "bool", ua.VariantType.SByte: "int16", ua.VariantType.Byte: "uint16",
         ua.VariantType.Int16: "int16", ua.VariantType.UInt16: "uint16", ua.VariantType.Int32: "int32",
         ua.VariantType.UInt32: "uint32", ua.VariantType.Int64: "int64", ua.VariantType.UInt64: "uint64",
         ua.VariantType.Float: "float32", ua.VariantType.Double: "float64", ua.VariantType.String: "string",
         ua.VariantType.LocalizedText: "string"}
_KIND = {ua.NodeIdType.String: "s", ua.NodeIdType.Numeric: "i", ua.NodeIdType.TwoByte: "i",
         ua.NodeIdType.FourByte: "i", ua.NodeIdType.Guid: "g", ua.NodeIdType.ByteString: "b"}


@dataclass(frozen=True)
class BrowsedTag:
    """One variable found: its tag path, type, address, access and description."""

    path: str
    data_type: str
    address: str
    access: str
    description: str


def snake(name: str) -> str:
    """A browse name as a tag path segment: ``CurrentFloor`` → ``current_floor``."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"[^a-z0-9_-]+", "_", s.lower()).strip("_")
    return s or "node"


def address_of(nodeid: ua.NodeId, namespaces: list[str]) -> str:
    """The site address of a node: by namespace URI, or ``i=N`` in namespace 0."""
    kind = _KIND.get(nodeid.NodeIdType, "s")
    ident = nodeid.Identifier
    if kind == "b":
        ident = ident.decode(errors="replace") if isinstance(ident, bytes) else ident
    if nodeid.NamespaceIndex == 0 and kind == "i":
        return f"i={ident}"
    return f"nsu={namespaces[nodeid.NamespaceIndex]};{kind}={ident}"


async def resolve_root(client: Client, root: str | None, namespaces: list[str]):
    """The start node: Objects by default, a node id (nsu=/i=) or a browse path."""
    if not root:
        return client.nodes.objects
    if root.startswith("/"):
        return await client.nodes.root.get_child(browse_path(root, namespaces, None))
    if root.startswith("ns="):
        raise NamespaceError("give the root by namespace URI (nsu=...) or as a browse path")
    return client.get_node(node_id(root, namespaces))


async def browse(client: Client, root=None, prefix: str = "", max_depth: int = 12,
                 limit: int = 50_000, include_standard: bool = False) -> list[BrowsedTag]:
    """Every variable below ``root`` (depth-first), as tags named ``<prefix>/<names...>``."""
    namespaces = await client.get_namespace_array()
    start = await resolve_root(client, root, namespaces) if not hasattr(root, "nodeid") else root
    out: list[BrowsedTag] = []
    seen: set = set()

    async def walk(node, names: list[str], depth: int) -> None:
        if len(out) >= limit or depth > max_depth:
            return
        for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
            nid = child.nodeid
            if nid in seen or (nid.NamespaceIndex == 0 and not include_standard):
                continue
            seen.add(nid)
            bname = (await child.read_browse_name()).Name
            cls = await child.read_node_class()
            path = names + [snake(bname)]
            if cls == ua.NodeClass.Variable:
                try:
                    vt = await child.read_data_type_as_variant_type()
                except Exception:
                    continue
                dtype = TYPES.get(vt)
                if dtype is None:
                    continue          # arrays of structures, DateTime ...: no scalar tag type
                level = await child.read_attribute(ua.AttributeIds.UserAccessLevel)
                writable = bool(level.Value.Value & ua.AccessLevel.CurrentWrite.mask) if level.Value else False
                desc = await child.read_description()
                out.append(BrowsedTag("/".join(p for p in ([prefix] if prefix else []) + path if p),
                                      dtype, address_of(nid, namespaces), "rw" if writable else "r",
                                      (desc.Text or "") if desc else ""))
                await walk(child, path, depth + 1)     # variables may have properties
            elif cls == ua.NodeClass.Object:
                await walk(child, path, depth + 1)

    await walk(start, [], 0)
    return out


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_yaml(tags: list[BrowsedTag], device: str, endpoint: str, namespace_uri: str | None = None) -> str:
    """A site fragment: the device and its tags, ready to paste (or save as a site file)."""
    lines = ["# Generated by `spms tags browse`: review paths, units and scan settings before use.",
             "devices:", f"  {device}:", "    protocol: opcua", f"    endpoint: {_q(endpoint)}"]
    if namespace_uri:
        lines.append(f"    options: {{namespace_uri: {_q(namespace_uri)}}}")
    lines.append("tags:")
    for t in tags:
        fields = [f"path: {t.path}", f"type: {t.data_type}", f"device: {device}", f"address: {_q(t.address)}"]
        if t.access == "rw":
            fields.append("access: rw")
        if t.description:
            fields.append(f"description: {_q(t.description)}")
        lines.append(f"  - {{{', '.join(fields)}}}")
    return "\n".join(lines) + "\n"


def to_tagspecs(tags: list[BrowsedTag], device: str):
    """The browsed tags as TagSpecs (for the CSV writer of ``spms tags export``)."""
    from tagdb.site.model import TagSpec

    return [TagSpec(path=t.path, data_type=t.data_type, device=device, address=t.address, access=t.access,
                    description=t.description) for t in tags]
