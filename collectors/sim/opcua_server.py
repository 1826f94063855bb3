"""An asyncua server for simulated equipment: variables by string id, security, users, restart.

Variables live under ``Objects/<folder>/<object>/<name>`` with node id
``ns=<idx>;s=<object>.<name>`` in the simulator's namespace URI (clients resolve
the index by URI). Security offers None plus Basic256Sha256 Sign and
SignAndEncrypt with a self-signed certificate kept in ``cert_dir``; a users map
turns on username/password login (and, with ``anonymous=False``, requires it).
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole

from ..errors import SimulatorError

log = logging.getLogger(__name__)

VARIANT = {"bool": ua.VariantType.Boolean, "int16": ua.VariantType.Int16, "uint16": ua.VariantType.UInt16,
           "int32": ua.VariantType.Int32, "uint32": ua.VariantType.UInt32, "int64": ua.VariantType.Int64,
           "uint64": ua.VariantType.UInt64, "float32": ua.VariantType.Float, "float64": ua.VariantType.Double,
           "string": ua.VariantType.String}


class _Users:
    """Username/password check for the simulator (anonymous optionally allowed)."""

    def __init__(self, users: dict[str, str], anonymous: bool) -> None:
        self.users, self.anonymous = users, anonymous

    def get_user(self, iserver, username=None, password=None, certificate=None):
        """A User for valid credentials (or anonymous when allowed), else None."""
        if username is None:
            return User(role=UserRole.User) if self.anonymous else None
        if self.users.get(username) == password:
            return User(role=UserRole.User)
        return None


class OpcUaSimServer:
    """A restartable OPC UA server whose variables the simulation updates."""

    def __init__(self, host: str, port: int, namespace_uri: str, path: str = "/spms/sim",
                 cert_dir: Path | None = None, users: dict[str, str] | None = None, anonymous: bool = True,
                 security: bool = True, name: str = "opcua-sim") -> None:
        self.host, self.port, self.path = host, port, path
        self.namespace_uri = namespace_uri
        self.cert_dir = Path(cert_dir) if cert_dir else None
        self.users = dict(users or {})
        self.anonymous = anonymous
        self.security = security and self.cert_dir is not None
        self.name = name
        self._defs: list[tuple[str, str, str, str, Any, bool]] = []   # folder, object, var, type, value, writable
        self._server: Server | None = None
        self.nodes: dict[str, ua.NodeId] = {}     # "<object>.<var>" → node id
        self._types: dict[str, ua.VariantType] = {}
        self._last: dict[str, Any] = {}
        self.frozen: set[str] = set()

    @property
    def endpoint(self) -> str:
        """The opc.tcp URL clients connect to."""
        return f"opc.tcp://{self.host}:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        """True while serving."""
        return self._server is not None

    def add_variable(self, folder: str, obj: str, var: str, data_type: str, value: Any, writable: bool = False) -> None:
        """Declare a variable (before ``start``; kept across restarts)."""
        self._defs.append((folder, obj, var, data_type, value, writable))
        self._last[f"{obj}.{var}"] = value

    async def _certificate(self, server: Server) -> None:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        self.cert_dir.mkdir(parents=True, exist_ok=True)
        key, cert = self.cert_dir / f"{self.name}-key.pem", self.cert_dir / f"{self.name}-cert.der"
        await setup_self_signed_certificate(key, cert, server.get_application_uri(), socket.gethostname(),
                                            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                                            {"countryName": "CN", "organizationName": "spms simulators",
                                             "commonName": self.name})
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))

    async def start(self) -> None:
        """Build the address space and listen (again, after ``stop``, with the last values)."""
        if self._server is not None:
            return
        server = Server(user_manager=_Users(self.users, self.anonymous) if (self.users or not self.anonymous) else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"spms simulator {self.name}")
        await server.set_application_uri(f"urn:spms:sim:{self.name}")
        policies = [ua.SecurityPolicyType.NoSecurity]
        if self.security:
            await self._certificate(server)
            policies += [ua.SecurityPolicyType.Basic256Sha256_Sign, ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt]
        server.set_security_policy(policies)
        tokens = [ua.UserNameIdentityToken] if self.users else []
        if self.anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        idx = await server.register_namespace(self.namespace_uri)
        folders: dict[str, Any] = {}
        objects: dict[str, Any] = {}
        for folder, obj, var, dtype, _, writable in self._defs:
            if folder not in folders:
                folders[folder] = await server.nodes.objects.add_folder(ua.NodeId(folder, idx), ua.QualifiedName(folder, idx))
            if obj not in objects:
                objects[obj] = await folders[folder].add_object(ua.NodeId(obj, idx), ua.QualifiedName(obj, idx))
            key = f"{obj}.{var}"
            vt = VARIANT[dtype]
            node = await objects[obj].add_variable(ua.NodeId(key, idx), ua.QualifiedName(var, idx),
                                                   ua.Variant(self._last[key], vt))
            if writable:
                await node.set_writable()
            self.nodes[key] = node.nodeid
            self._types[key] = vt
        try:
            await server.start()
        except OSError as exc:
            raise SimulatorError(f"OPC UA simulator {self.name} cannot listen on {self.host}:{self.port}: {exc}") from exc
        self._server = server

    async def stop(self) -> None:
        """Stop serving (clients see the connection drop)."""
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    def read(self, key: str) -> Any:
        """The value a client last wrote (or the simulation published) for ``<object>.<var>``."""
        if self._server is None:
            return self._last.get(key)
        dv = self._server.read_attribute_value(self.nodes[key])
        return dv.Value.Value if dv is not None and dv.Value is not None else None

    async def publish(self, values: dict[str, Any], source_ts: datetime | None = None) -> int:
        """Write changed values (skipping frozen ones); returns how many were written."""
        ts = source_ts or datetime.now(timezone.utc)
        written = 0
        for key, value in values.items():
            if key in self.frozen or self._last.get(key) == value:
                continue
            self._last[key] = value
            if self._server is not None:
                dv = ua.DataValue(ua.Variant(value, self._types[key]), SourceTimestamp=ts, ServerTimestamp=ts)
                await self._server.write_attribute_value(self.nodes[key], dv)
            written += 1
        return written

    async def set_status(self, key: str, status: int) -> None:
        """Publish a Bad/Uncertain status code for one variable (e.g. a failed sensor)."""
        if self._server is not None:
            dv = ua.DataValue(ua.Variant(self._last.get(key), self._types[key]), StatusCode=ua.StatusCode(status))
            await self._server.write_attribute_value(self.nodes[key], dv)
