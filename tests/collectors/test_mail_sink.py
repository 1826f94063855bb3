"""The demo mail sink: real SMTP over loopback into .eml files and an index; the demo's mail lands there."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest
from twisted.internet import reactor
from twisted.internet.task import Clock

from alarms.notify.message import Message
from collectors.sim.demo import load_demo
from collectors.sim.mail_sink import MailSinkService
from collectors.simulators_service import SimulatorsService, mail_sink_from_config
from collectors.testing import aio_test, free_port, wait_deferred, wait_until
from tagdb.server.root import Component, build_root, make_context
from tagdb.site.loader import check_site
from tagdb.values import GOOD, TagValue

T0 = 1_772_352_000.0     # 2026-03-01 08:00:00 UTC


def _clock() -> Clock:
    c = Clock()
    c.advance(T0)
    return c


def _mail(sender: str, to: list[str], subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg.set_content(body)
    return msg


@aio_test
async def test_a_message_sent_over_loopback_is_stored_as_eml_with_an_index_line(tmp_path, caplog):
    port = free_port()
    sink = MailSinkService(reactor, tmp_path / "mail", port=port, clock=_clock())
    caplog.set_level(logging.DEBUG, logger="collectors.sim.mail_sink")
    sink.startService()
    try:
        assert f"accepting mail on smtp://127.0.0.1:{port}" in caplog.text and str(tmp_path / "mail") in caplog.text
        msg = _mail("spms@example.com", ["a@example.com", "b@example.com"], "Chiller 1 supply 14.5 °C", "Hot.\n")

        def send():
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                return s.send_message(msg)

        refused = await asyncio.to_thread(send)
        assert refused == {}
        files = sorted((tmp_path / "mail").glob("*.eml"))
        assert [f.name for f in files] == ["20260301T080000Z-1.eml"]    # stored before 250 was sent
        text = files[0].read_text()
        assert "Hot." in text and "From: spms@example.com" in text
        [entry] = [json.loads(line) for line in (tmp_path / "mail" / "index.jsonl").read_text().splitlines()]
        assert entry["file"] == "20260301T080000Z-1.eml"
        assert entry["from"] == "spms@example.com"
        assert entry["to"] == ["a@example.com", "b@example.com"]   # one file for both recipients
        assert entry["subject"] == "Chiller 1 supply 14.5 °C"     # RFC 2047 decoded
        assert entry["received"] == "2026-03-01T08:00:00Z"
        assert entry["size"] == files[0].stat().st_size and entry["peer"] == "127.0.0.1"
        assert "20260301T080000Z-1.eml from spms@example.com to a@example.com, b@example.com" in caplog.text
        assert sink.health() == {"listening": f"smtp://127.0.0.1:{port}", "received": 1}
    finally:
        await wait_deferred(sink.stopService())


@aio_test
async def test_oversize_messages_get_552_and_nothing_is_stored_the_session_goes_on(tmp_path):
    port = free_port()
    sink = MailSinkService(reactor, tmp_path / "mail", port=port, max_size=2048, clock=_clock())
    sink.startService()
    big = _mail("x@example.com", ["y@example.com"], "big", ("z" * 70 + "\n") * 40)

    def declared():
        # smtplib declares SIZE= because the sink advertises it: refused at MAIL FROM.
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo()
            assert s.has_extn("size") and s.esmtp_features["size"] == "2048"
            with pytest.raises(smtplib.SMTPSenderRefused) as exc:
                s.send_message(big)
            return exc.value.smtp_code

    def undeclared():
        # A client that does not declare the size is refused after DATA, and may go on.
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.ehlo()
            assert s.mail("x@example.com")[0] == 250
            assert s.rcpt("y@example.com")[0] == 250
            code, _ = s.data(big.as_bytes())
            small = _mail("x@example.com", ["y@example.com"], "small", "ok\n")
            s.send_message(small)
            return code

    try:
        assert await asyncio.to_thread(declared) == 552
        assert await asyncio.to_thread(undeclared) == 552
        entries = sink.store.entries()
        assert [e["subject"] for e in entries] == ["small"]
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    finally:
        await wait_deferred(sink.stopService())


@aio_test
async def test_numbers_continue_after_a_restart_and_a_taken_port_only_warns(tmp_path, caplog):
    port = free_port()
    first = MailSinkService(reactor, tmp_path / "mail", port=port, clock=_clock())
    first.startService()
    send = lambda s: smtplib.SMTP("127.0.0.1", port, timeout=10).sendmail("a@x.example", ["b@x.example"], s)
    await asyncio.to_thread(send, "Subject: one\n\n1\n")
    # A second sink on the same port (a second demo, an aiosmtpd someone started) stays down.
    second = MailSinkService(reactor, tmp_path / "other", port=port)
    with caplog.at_level(logging.WARNING, logger="collectors.sim.mail_sink"):
        second.startService()
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text and second.listening is None
    await wait_deferred(second.stopService())
    await wait_deferred(first.stopService())

    again = MailSinkService(reactor, tmp_path / "mail", port=port, clock=_clock())
    again.startService()
    try:
        await asyncio.to_thread(send, "Subject: two\n\n2\n")
        assert [(e["file"], e["subject"]) for e in again.store.entries()] == [
            ("20260301T080000Z-1.eml", "one"), ("20260301T080000Z-2.eml", "two")]
    finally:
        await wait_deferred(again.stopService())


SITE = "site: {name: T, timezone: UTC}\n"


def test_mail_sink_config_is_validated_with_file_line_and_field(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE + """simulators:
  mail_sink:
    address: 0.0.0.0
    port: 70000
    max_size: 10
""")
    _, errors = check_site(tmp_path)
    text = "\n".join(str(e) for e in errors)
    assert "site.yaml:5: simulators.mail_sink.port" in text
    assert "site.yaml:6: simulators.mail_sink.max_size" in text
    (tmp_path / "site.yaml").write_text(SITE + "simulators:\n  mail_sink: {address: 192.168.1.5}\n")
    _, errors = check_site(tmp_path)
    assert [str(e) for e in errors] and "simulators.mail_sink.address" in str(errors[0])
    assert "site.yaml:3" in str(errors[0]) and "not a loopback IP address" in str(errors[0])


def test_absent_means_no_sink_and_port_env_overrides_the_port(tmp_path, monkeypatch):
    (tmp_path / "site.yaml").write_text(SITE + "simulators:\n  seed: 2\n")
    site, errors = check_site(tmp_path)
    assert errors == [] and mail_sink_from_config(site.section("simulators"), reactor, tmp_path) is None
    (tmp_path / "site.yaml").write_text(SITE + "simulators:\n  mail_sink: {port: 2600, port_env: T_SINK_PORT}\n")
    site, errors = check_site(tmp_path)
    assert errors == []
    sink = mail_sink_from_config(site.section("simulators"), reactor, tmp_path)
    assert (sink.name, sink.address, sink.port, sink.max_size) == ("mail_sink", "127.0.0.1", 2600, 10 * 1024 * 1024)
    assert sink.store.folder == tmp_path / "mail"
    monkeypatch.setenv("T_SINK_PORT", "2601")
    assert mail_sink_from_config(site.section("simulators"), reactor, tmp_path).port == 2601


def test_the_demo_sink_listens_where_the_demo_email_channel_sends():
    site = load_demo(0)
    sink = site.section("simulators")["mail_sink"]
    email = site.section("alarms")["channels"]["email"]
    assert (sink["address"], sink["port"], sink["port_env"]) == (email["host"], email["port"], email["port_env"])
    moved = load_demo().section("simulators")["mail_sink"]
    assert moved["port"] != 2525        # tests on free ports do not take the demo's port


def test_the_sink_is_a_named_child_of_the_simulators_service(tmp_path):
    hub = type("Hub", (), {})()
    sink = MailSinkService(Clock(), tmp_path)
    service = SimulatorsService(hub, sink)
    assert service.name == "simulators" and service.mail_sink is sink and sink.parent is service
    assert SimulatorsService(hub).mail_sink is None


COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("alarms", "alarms.service", lambda s: True),
              Component("control", "control.service", lambda s: True),
              Component("simulators", "collectors.simulators_service", lambda s: True))


@pytest.mark.slow
@aio_test
async def test_demo_alarm_emails_land_in_the_sink_and_mail_pending_at_start_needs_no_retry(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SPMS_DEMO_SMTP_PORT", str(free_port()))   # the channel and the sink follow it
    site = load_demo()
    ctx = make_context(site, reactor, tmp_path)
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    outbox = ctx.provides["notify_outbox"]
    # Left pending by an earlier run: the outbox's first pass, right at start, sends it.
    pending = outbox.enqueue(Message(channel="email", recipient="li.wei@harbourview.example",
                                     subject="left over", body="from the last run"))
    caplog.set_level(logging.INFO)
    await wait_deferred(root.startService())
    sink = ctx.provides["mail_sink"]
    try:
        assert sink.listening is not None
        await wait_until(lambda: outbox.entries(status="sent"), timeout=20, what="pending mail sent")
        assert [a["ok"] for a in outbox.attempts(pending)] == [True]     # no failed first attempt
        assert [e["subject"] for e in sink.store.entries()] == ["left over"]

        # A real alarm: the emergency call button of a lift (critical, notified at once).
        now = datetime.now(timezone.utc)
        ctx.tags.update([TagValue("tower-a/elevator-1/emergency_call", True, GOOD, now, now)])
        await wait_until(lambda: any("lifts@otis-service.example" in e["to"] for e in sink.store.entries()),
                         timeout=20, what="alarm e-mail to the lift contractor in the sink")
        entry = next(e for e in sink.store.entries() if "lifts@otis-service.example" in e["to"])
        assert entry["from"] == "spms-alarms@harbourview.example"
        eml = (sink.store.folder / entry["file"]).read_text()
        assert "Emergency call button pressed in tower-a/elevator-1" in eml
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR and "mail" in r.getMessage()]
    finally:
        await wait_deferred(root.stopService())
