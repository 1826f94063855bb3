"""Delivery channels: e-mail over SMTP, SMS through an HTTP gateway, JSON webhooks.

A channel has a ``name`` and ``async send(message)``; it raises
:class:`alarms.errors.NotificationError` when delivery failed (the outbox then
retries it). Channels take the reactor as an argument and never import the
global one, so tests run them against loopback servers on the test reactor.
"""

from __future__ import annotations

import json
import os
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from io import BytesIO
from string import Template
from typing import Any, Mapping, Protocol, runtime_checkable
from urllib.parse import quote

from twisted.internet import defer

from ..errors import NotificationError
from .message import Message


@runtime_checkable
class Channel(Protocol):
    """Something that delivers a :class:`Message` (raises NotificationError on failure)."""

    name: str

    async def send(self, message: Message) -> None:
        """Deliver one message."""


class EmailChannel:
    """SMTP submission (optionally STARTTLS and login) with Twisted's ESMTP client."""

    def __init__(self, name: str, reactor: Any, host: str, port: int, sender: str,
                 username: str | None = None, password: str | None = None, starttls: bool = False,
                 timeout: float = 10.0) -> None:
        self.name = name
        self.reactor = reactor
        self.host, self.port, self.sender = host, int(port), sender
        self.username, self.password = username, password
        self.starttls = starttls
        self.timeout = timeout

    def render(self, message: Message) -> bytes:
        """The RFC 5322 message bytes."""
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = message.recipient
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(self.reactor.seconds(), usegmt=True)
        msg["Message-ID"] = make_msgid(domain="spms.local")
        if message.source:
            msg["X-SPMS-Source"] = message.source
        msg.set_content(message.body)
        return msg.as_bytes()

    async def send(self, message: Message) -> None:
        """Submit the message; NotificationError when the server is down or refuses it."""
        # Imported here: twisted.mail.smtp imports the global reactor at import time.
        from twisted.mail.smtp import ESMTPSenderFactory

        done: defer.Deferred = defer.Deferred()
        factory = ESMTPSenderFactory(
            self.username.encode() if self.username else None,
            self.password.encode() if self.password else None,
            self.sender, [message.recipient], BytesIO(self.render(message)), done,
            retries=0, timeout=self.timeout,
            requireAuthentication=bool(self.username), requireTransportSecurity=self.starttls)
        factory.domain = b"spms.local"
        factory.noisy = False   # one line per message at INFO would drown the log in a flood
        self.reactor.connectTCP(self.host, self.port, factory, timeout=self.timeout)
        try:
            await done
        except Exception as exc:
            raise NotificationError(f"e-mail to {message.recipient} via {self.host}:{self.port} failed: "
                                    f"{_describe(exc)}") from exc


class HttpChannel:
    """Common part of the SMS gateway and webhook channels (treq on an injected reactor)."""

    def __init__(self, name: str, reactor: Any, url: str, method: str = "POST",
                 headers: Mapping[str, str] | None = None, ok_status: tuple[int, ...] = (200, 201, 202, 204),
                 timeout: float = 10.0) -> None:
        self.name = name
        self.reactor = reactor
        self.url, self.method = url, method
        self.headers = dict(headers or {})
        self.ok_status = tuple(ok_status)
        self.timeout = timeout
        self._client = None

    def _http(self):
        if self._client is None:
            from treq.client import HTTPClient
            from twisted.web.client import Agent

            self._client = HTTPClient(Agent(self.reactor, connectTimeout=self.timeout))
        return self._client

    async def _request(self, url: str, body: bytes | None, headers: Mapping[str, str], what: str) -> None:
        hdrs = {k: [v] for k, v in {**self.headers, **headers}.items()}
        try:
            d = self._http().request(self.method, url, data=body, headers=hdrs)
            d.addTimeout(self.timeout, self.reactor)
            resp = await d
            text = await resp.text()
        except Exception as exc:
            raise NotificationError(f"{what} via {self.url} failed: {_describe(exc)}") from exc
        if resp.code not in self.ok_status:
            raise NotificationError(f"{what} via {self.url} refused: HTTP {resp.code} {text[:200]!r}")


class SmsChannel(HttpChannel):
    """An SMS gateway reached over HTTP; ``body``/``url`` are templates.

    Placeholders ``$to``, ``$text`` and ``$subject`` (``string.Template``) are
    filled URL-encoded in the URL and JSON-escaped in a body whose
    Content-Type is JSON, raw otherwise. With no body template the gateway
    gets a form ``to=...&text=...``.
    """

    def __init__(self, name: str, reactor: Any, url: str, body: str | None = None, **kw: Any) -> None:
        super().__init__(name, reactor, url, **kw)
        self.body_template = body

    def _body(self, message: Message) -> tuple[bytes | None, dict]:
        text = message.body if len(message.body) <= 480 else message.body[:477] + "..."
        if self.body_template is None:
            form = f"to={quote(message.recipient)}&text={quote(text)}"
            return form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        is_json = "json" in self.headers.get("Content-Type", "").lower()
        esc = (lambda s: json.dumps(s)[1:-1]) if is_json else (lambda s: s)
        body = Template(self.body_template).safe_substitute(
            to=esc(message.recipient), text=esc(text), subject=esc(message.subject))
        return body.encode(), {}

    async def send(self, message: Message) -> None:
        """POST (or GET) the gateway request."""
        url = Template(self.url).safe_substitute(to=quote(message.recipient), text=quote(message.body[:480]),
                                                 subject=quote(message.subject))
        body, headers = self._body(message) if self.method != "GET" else (None, {})
        await self._request(url, body, headers, f"SMS to {message.recipient}")


class WebhookChannel(HttpChannel):
    """A JSON POST of subject, body, source and payload to the recipient URL (or the channel URL)."""

    async def send(self, message: Message) -> None:
        """POST the JSON document."""
        url = message.recipient if message.recipient.startswith(("http://", "https://")) else self.url
        doc = {"subject": message.subject, "text": message.body, "source": message.source,
               "recipient": message.recipient, "data": dict(message.payload)}
        await self._request(url, json.dumps(doc, default=str).encode(),
                            {"Content-Type": "application/json"}, f"webhook {message.recipient}")


def build_channels(config: Mapping[str, Mapping[str, Any]], reactor: Any) -> dict[str, Channel]:
    """Channels from the validated ``alarms.channels`` section (passwords from the environment)."""
    out: dict[str, Channel] = {}
    for name, c in config.items():
        if c["type"] == "email":
            password = os.environ.get(c["password_env"]) if c.get("password_env") else None
            port = c["port"]
            if c.get("port_env") and os.environ.get(c["port_env"], "").strip().isdigit():
                port = int(os.environ[c["port_env"]])
            out[name] = EmailChannel(name, reactor, c["host"], port, c["sender"], c.get("username"),
                                     password, c["starttls"], c["timeout"])
        elif c["type"] == "sms":
            out[name] = SmsChannel(name, reactor, c["url"], body=c.get("body"), method=c["method"],
                                   headers=c["headers"], ok_status=tuple(c["ok_status"]), timeout=c["timeout"])
        else:
            out[name] = WebhookChannel(name, reactor, c["url"], method=c["method"], headers=c["headers"],
                                       ok_status=tuple(c["ok_status"]), timeout=c["timeout"])
    return out


def recipient_for(kind: str, contact: Mapping[str, Any]) -> str | None:
    """The address a contact has for a channel type (None when it has none)."""
    return {"email": contact.get("email"), "sms": contact.get("phone"),
            "webhook": contact.get("webhook") or ""}.get(kind)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, defer.FirstError):
        exc = exc.subFailure.value
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
