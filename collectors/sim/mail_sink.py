"""The demo mail sink: an SMTP server on loopback that keeps every message in the data folder.

The demo's alarm and business notifications leave by e-mail to a loopback
address. Without a server there the outbox retries for ever and nobody sees a
notification; this sink accepts them and writes each one to
``<data_dir>/mail/<UTC timestamp>-<n>.eml`` plus one line of ``index.jsonl``
(received, file, from, to, subject, size, peer). It is built on Twisted's own
ESMTP server (no extra dependency), binds loopback addresses only, relays
nothing and refuses messages above a size limit with SMTP 552.

This module imports :mod:`twisted.mail.smtp`, which imports the global reactor:
import it only once the reactor is installed (``simulators_service`` does so
lazily, from ``from_config``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import ServerFactory
from twisted.mail import smtp
from zope.interface import implementer

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
INDEX_NAME = "index.jsonl"
_SIZE_PARAM = re.compile(rb"\bSIZE=(\d+)", re.I)


class MailStore:
    """The mail folder: one ``.eml`` file per message and an append-only JSONL index."""

    def __init__(self, folder: Path | str, clock: Any) -> None:
        self.folder = Path(folder)
        self.clock = clock
        self.index = self.folder / INDEX_NAME
        self.received = 0
        self._next: int | None = None

    def _next_number(self) -> int:
        # Numbers continue the index across restarts, so names stay unique and ordered.
        if self._next is None:
            self._next = 1
            if self.index.exists():
                with self.index.open("rb") as f:
                    self._next += sum(1 for _ in f)
        n = self._next
        self._next += 1
        return n

    def save(self, sender: str, recipients: list[str], data: bytes, peer: str = "") -> dict:
        """Write one message and its index line; returns the index entry."""
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        while True:
            name = f"{stamp}-{self._next_number()}.eml"
            try:
                with (self.folder / name).open("xb") as f:
                    f.write(data)
                break
            except FileExistsError:
                continue   # left by an earlier run whose index was removed: take the next number
        entry = {"received": now.isoformat().replace("+00:00", "Z"), "file": name, "from": sender,
                 "to": list(recipients), "subject": subject_of(data), "size": len(data), "peer": peer}
        with self.index.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.received += 1
        return entry

    def entries(self) -> list[dict]:
        """Every index entry, oldest first."""
        if not self.index.exists():
            return []
        with self.index.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


def subject_of(data: bytes) -> str:
    """The decoded ``Subject`` header of a message ('' when it has none or it cannot be parsed)."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(data)
        return str(headers.get("Subject", "") or "")
    except Exception:   # a malformed header is kept in the .eml; the index just lacks it
        return ""


@implementer(smtp.IMessage)
class _Envelope:
    """One SMTP transaction: the sender, every recipient, the lines of the message.

    Twisted asks for one IMessage per recipient; the first one collects the
    lines and writes the file once, the others only report its outcome.
    """

    def __init__(self, sink: "MailSinkService", sender: str, peer: str) -> None:
        self.sink = sink
        self.sender = sender
        self.peer = peer
        self.recipients: list[str] = []
        self.lines: list[bytes] = []
        self.size = 0
        self.error: Exception | None = None
        self._handed_out = 0

    def message(self):
        """The IMessage for the next recipient (called by Twisted at DATA)."""
        self._handed_out += 1
        return self if self._handed_out == 1 else _Outcome(self)

    def lineReceived(self, line: bytes) -> None:
        """Keep a line; refuse the message (552) once it exceeds the size limit."""
        self.size += len(line) + 2
        if self.size > self.sink.max_size:
            self.lines = []
            # bytes: Twisted sends the response of a failed DATA as it is
            raise smtp.SMTPServerError(552, f"message exceeds the size limit of {self.sink.max_size} bytes".encode())
        self.lines.append(line)

    def eomReceived(self) -> defer.Deferred:
        """Store the message; a failure answers 550 and the sender keeps it for retry."""
        data = b"\n".join(self.lines) + b"\n"
        self.lines = []
        try:
            entry = self.sink.store.save(self.sender, self.recipients, data, self.peer)
        except OSError as exc:
            self.error = exc
            self.sink.store_failed(exc)
            return defer.fail(exc)
        self.sink.stored(entry)
        return defer.succeed(None)

    def connectionLost(self) -> None:
        """The client went away or the message was refused: forget it."""
        self.lines = []


@implementer(smtp.IMessage)
class _Outcome:
    """The IMessage of a further recipient: same file, same result."""

    def __init__(self, envelope: _Envelope) -> None:
        self.envelope = envelope

    def lineReceived(self, line: bytes) -> None:
        """Ignored: the envelope keeps the lines once."""

    def eomReceived(self) -> defer.Deferred:
        """The envelope's result (it is stored first: Twisted calls recipients in order)."""
        return defer.fail(self.envelope.error) if self.envelope.error else defer.succeed(None)

    def connectionLost(self) -> None:
        """Nothing to forget."""


class _SinkSMTP(smtp.ESMTP):
    """ESMTP accepting any sender and recipient into the sink; advertises SIZE, no AUTH."""

    noisy = False   # the sink logs one DEBUG line per message itself

    def __init__(self, sink: "MailSinkService") -> None:
        super().__init__()
        self.sink = sink
        self._envelope: _Envelope | None = None

    def extensions(self) -> dict:
        """SIZE (RFC 1870) with the limit; no AUTH, no STARTTLS: loopback only."""
        ext = super().extensions()
        ext.pop(b"AUTH", None)
        ext[b"SIZE"] = [str(self.sink.max_size).encode()]
        return ext

    def do_MAIL(self, rest: bytes) -> None:
        """Refuse at once a message whose declared SIZE is above the limit."""
        m = _SIZE_PARAM.search(rest)
        if m and int(m.group(1)) > self.sink.max_size:
            self.sendCode(552, f"message size exceeds the limit of {self.sink.max_size} bytes".encode())
            return
        super().do_MAIL(rest)

    def validateFrom(self, helo, origin):
        """Start a new envelope for this transaction."""
        peer = getattr(self.transport.getPeer(), "host", "")
        self._envelope = _Envelope(self.sink, str(origin), str(peer))
        return origin

    def validateTo(self, user):
        """Accept every recipient of the envelope."""
        self._envelope.recipients.append(str(user.dest))
        return self._envelope.message

    def receivedHeader(self, helo, origin, recipients):
        """No Received: header: the index records where and when the message came in."""
        return None


class _SinkFactory(ServerFactory):
    noisy = False

    def __init__(self, sink: "MailSinkService") -> None:
        self.sink = sink

    def buildProtocol(self, addr):
        p = _SinkSMTP(self.sink)
        p.factory = self
        p.host = self.sink.domain
        p.timeout = self.sink.idle_timeout
        p.callLater = self.sink.reactor.callLater   # idle timeouts on the injected reactor
        return p


class MailSinkService(Service):
    """The named ``mail_sink`` service: listens on ``address:port`` while running.

    If the port is taken (another mail catcher, a second demo) the sink logs a
    warning and stays down: mail then goes to whatever listens there.
    """

    def __init__(self, reactor: Any, folder: Path | str, address: str = "127.0.0.1", port: int = 2525,
                 max_size: int = DEFAULT_MAX_SIZE, clock: Any = None, idle_timeout: float = 120.0) -> None:
        self.setName("mail_sink")
        self.reactor = reactor
        self.address, self.port = address, int(port)
        self.max_size = int(max_size)
        self.store = MailStore(folder, clock if clock is not None else reactor)
        self.domain = b"spms-mail-sink.local"
        self.idle_timeout = idle_timeout
        self.listening = None
        self._store_down = False

    @property
    def url(self) -> str:
        """``smtp://address:port`` actually listened on."""
        port = self.listening.getHost().port if self.listening is not None else self.port
        return f"smtp://{self.address}:{port}"

    def startService(self) -> None:
        """Listen now (synchronously: see ``collectors.simulators_service`` for why that matters)."""
        super().startService()
        try:
            self.listening = self.reactor.listenTCP(self.port, _SinkFactory(self), interface=self.address)
        except CannotListenError as exc:
            log.warning("mail sink: cannot listen on %s:%d (%s); not started, mail goes to whatever "
                        "listens there", self.address, self.port, exc.socketError)
            return
        log.info("mail sink: accepting mail on %s; each message is stored in %s (index: %s)",
                 self.url, self.store.folder, self.store.index.name)

    def stopService(self):
        """Stop listening (mail already stored stays)."""
        super().stopService()
        listening, self.listening = self.listening, None
        return listening.stopListening() if listening is not None else None

    def stored(self, entry: dict) -> None:
        """Log a stored message (DEBUG) and a recovered store (INFO)."""
        if self._store_down:
            self._store_down = False
            log.info("mail sink: storing mail in %s again", self.store.folder)
        log.debug("mail sink: message %s from %s to %s (%d bytes): %s", entry["file"], entry["from"] or "<>",
                  ", ".join(entry["to"]), entry["size"], entry["subject"])

    def store_failed(self, exc: Exception) -> None:
        """Log a store failure once at ERROR, repeats at DEBUG (the client gets 550 and retries)."""
        if not self._store_down:
            self._store_down = True
            log.error("mail sink: cannot store mail in %s: %s", self.store.folder, exc)
        else:
            log.debug("mail sink: still cannot store mail: %s", exc)

    def health(self) -> dict:
        """Where the sink listens and how many messages it stored since start."""
        return {"listening": self.url if self.listening is not None else None, "received": self.store.received}
