"""Opening an asyncua session as a device's options say: security, login, client certificate."""

from __future__ import annotations

import logging
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

log = logging.getLogger(__name__)

APPLICATION_URI = "urn:spms:collector"
MODES = {"Sign": ua.MessageSecurityMode.Sign, "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt}


async def client_certificate(client: Client, data_dir: Path, options: dict) -> tuple[Path, Path]:
    """The configured client certificate, or one generated on first use in ``<data_dir>/opcua/``."""
    if options.get("certificate"):
        return Path(options["certificate"]), Path(options["private_key"])
    folder = Path(data_dir) / "opcua"
    cert, key = folder / "client-cert.der", folder / "client-key.pem"
    existed = cert.exists() and key.exists()
    await client.setup_self_signed_certificate(key, cert, subject_attrs={"organizationName": "spms"})
    if not existed:
        log.info("generated the OPC UA client certificate %s", cert)
    return cert, key


async def open_client(endpoint: str, options: dict, timeout: float, data_dir: Path) -> Client:
    """A connected Client (no auto-reconnect: the collector supervises and re-creates sessions)."""
    client = Client(endpoint, timeout=timeout, watchdog_intervall=float(options.get("watchdog_interval") or 10.0))
    client.application_uri = APPLICATION_URI
    client.name = client.description = "spms collector"
    client.session_timeout = int(float(options.get("session_timeout") or 60.0) * 1000)
    if options.get("username"):
        client.set_user(options["username"])
        client.set_password(options.get("password") or "")
    mode = options.get("security_mode") or "None"
    if mode != "None":
        cert, key = await client_certificate(client, data_dir, options)
        await client.set_security(SecurityPolicyBasic256Sha256, certificate=str(cert), private_key=str(key),
                                  server_certificate=options.get("server_certificate"), mode=MODES[mode])
    try:
        await client.connect(auto_reconnect=False)
    except BaseException:
        client.disconnect_socket()      # a half-open session attempt must not leak its socket
        raise
    return client
