"""Channels against real loopback servers: aiosmtpd for e-mail, twisted.web for SMS and webhooks."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import pytest
import pytest_twisted
from twisted.internet import task
from twisted.web import resource, server

from alarms.errors import NotificationError
from alarms.notify import EmailChannel, Message, Outbox, SmsChannel, WebhookChannel
from collectors.testing import free_port, start_smtp

from .conftest import memory_engine


async def wait_for(predicate, timeout: float = 15.0, step: float = 0.05) -> None:
    """Wait on a condition with a deadline (the reactor keeps running meanwhile)."""
    from twisted.internet import reactor

    waited = 0.0
    while not predicate():
        if waited >= timeout:
            raise AssertionError("condition not reached in time")
        await task.deferLater(reactor, step, lambda: None)
        waited += step


class Recorder(resource.Resource):
    """An HTTP endpoint that records requests and answers with a configurable status."""

    isLeaf = True

    def __init__(self, status: int = 200) -> None:
        super().__init__()
        self.requests: list[dict] = []
        self.status = status

    def render(self, request):
        self.requests.append({"method": request.method.decode(), "uri": request.uri.decode(),
                              "headers": {k.decode().lower(): v[0].decode()
                                          for k, v in request.requestHeaders.getAllRawHeaders()},
                              "body": request.content.read().decode()})
        request.setResponseCode(self.status)
        return b'{"ok": true}'


@asynccontextmanager
async def recording_endpoint(status: int = 200):
    """A :class:`Recorder` answering ``status`` on a loopback port: (recorder, base URL); closed after."""
    from twisted.internet import reactor

    rec = Recorder(status)
    port = reactor.listenTCP(0, server.Site(rec), interface="127.0.0.1")
    try:
        yield rec, f"http://127.0.0.1:{port.getHost().port}"
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_email_is_delivered_to_a_real_smtp_server():
    from twisted.internet import reactor

    port = free_port()
    ctl, inbox = start_smtp(port)
    try:
        ch = EmailChannel("mail", reactor, "127.0.0.1", port, "spms@estate.test")
        await ch.send(Message("mail", "tech@example.test", "[HIGH] Chiller 1 supply temperature H",
                              "Value 9.6 degC (limit 9.0)", source="plant/chiller-1/supply_temp:H"))
        assert len(inbox.messages) == 1
        env = inbox.messages[0]
        assert env.mail_from == "spms@estate.test" and env.rcpt_tos == ["tech@example.test"]
        text = env.content.decode()
        assert "Subject: [HIGH] Chiller 1 supply temperature H" in text
        assert "X-SPMS-Source: plant/chiller-1/supply_temp:H" in text and "Value 9.6 degC" in text
    finally:
        ctl.stop()


@pytest_twisted.ensureDeferred
async def test_email_to_a_down_server_raises_notification_error():
    from twisted.internet import reactor

    ch = EmailChannel("mail", reactor, "127.0.0.1", free_port(), "spms@estate.test", timeout=2)
    with pytest.raises(NotificationError, match="failed"):
        await ch.send(Message("mail", "a@example.test", "s", "b"))


@pytest_twisted.ensureDeferred
async def test_smtp_outage_messages_queue_and_arrive_when_the_server_returns():
    from twisted.internet import reactor

    port = free_port()
    ch = EmailChannel("mail", reactor, "127.0.0.1", port, "spms@estate.test", timeout=2)
    ob = Outbox(memory_engine(), reactor, {"mail": ch}, retry_initial=0.2, retry_max=0.5, poll=0.2)
    ob.start()
    ids = [ob.enqueue(Message("mail", f"tech{i}@example.test", f"alarm {i}", "body")) for i in range(3)]
    try:
        await wait_for(lambda: all(len(ob.attempts(i)) >= 2 for i in ids))
        assert all(e.status == "pending" for e in ob.entries())
        ctl, inbox = start_smtp(port)         # the mail server comes back
        try:
            await wait_for(lambda: ob.counts() == {"sent": 3})
            assert sorted(e.rcpt_tos[0] for e in inbox.messages) == [f"tech{i}@example.test" for i in range(3)]
            for i in ids:
                attempts = ob.attempts(i)
                assert attempts[-1]["ok"] and not any(a["ok"] for a in attempts[:-1])
        finally:
            ctl.stop()
    finally:
        ob.stop()


@pytest_twisted.ensureDeferred
async def test_sms_gateway_request_template():
    from twisted.internet import reactor

    async with recording_endpoint() as (rec, base):
        url = f"{base}/sms/send?key=abc"
        ch = SmsChannel("sms", reactor, url, body='{"to": "$to", "msg": "$text"}',
                        headers={"Content-Type": "application/json", "X-Api-Key": "k1"})
        await ch.send(Message("sms", "+8613800000001", "subj", 'Chiller "1" too hot'))
        req = rec.requests[0]
        assert req["method"] == "POST" and req["uri"] == "/sms/send?key=abc"
        assert req["headers"]["x-api-key"] == "k1"
        assert json.loads(req["body"]) == {"to": "+8613800000001", "msg": 'Chiller "1" too hot'}


@pytest_twisted.ensureDeferred
async def test_sms_gateway_refusal_is_an_error():
    from twisted.internet import reactor

    async with recording_endpoint(500) as (rec, base):
        ch = SmsChannel("sms", reactor, f"{base}/send")
        with pytest.raises(NotificationError, match="HTTP 500"):
            await ch.send(Message("sms", "+86138", "s", "b"))
        assert rec.requests[0]["body"] == "to=%2B86138&text=b"


@pytest_twisted.ensureDeferred
async def test_webhook_posts_json():
    from twisted.internet import reactor

    async with recording_endpoint(204) as (rec, base):
        ch = WebhookChannel("hook", reactor, f"{base}/hook")
        await ch.send(Message("hook", "", "subject", "text", payload={"alarm_id": "a:H", "value": 9.6},
                              source="a:H"))
        doc = json.loads(rec.requests[0]["body"])
        assert rec.requests[0]["headers"]["content-type"] == "application/json"
        assert doc["subject"] == "subject" and doc["data"] == {"alarm_id": "a:H", "value": 9.6}


