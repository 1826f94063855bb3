"""Notifications: messages, channels, the durable outbox, grouping, rosters, alarm pipelines.

Public API (also for the business layer's resident and staff notices)::

    from alarms.notify import Message, Outbox, build_channels, EmailChannel, SmsChannel, WebhookChannel

    channels = build_channels(site.section("alarms")["channels"], reactor)   # or your own Channel objects
    outbox = Outbox(engine, reactor, channels)      # engine: SQLAlchemy engine with the alarm tables
    outbox.start()
    outbox.enqueue(Message(channel="email", recipient="a@b.c", subject="...", body="...", source="notice:1"))

Every message is stored before sending, every attempt is recorded
(``Outbox.attempts``), failures retry with exponential backoff. A
:class:`Dispatcher` in front of ``Outbox.enqueue`` adds flood grouping and rate
limiting; :class:`Notifier` is the alarm engine's listener that routes
transitions through the configured pipelines and rosters.
"""

from .channels import Channel, EmailChannel, HttpChannel, SmsChannel, WebhookChannel, build_channels, recipient_for
from .grouping import Dispatcher, summarize
from .message import Message
from .outbox import Outbox, OutboxEntry
from .pipeline import Notifier, Pipeline
from .roster import Roster, Shift

__all__ = ["Channel", "Dispatcher", "EmailChannel", "HttpChannel", "Message", "Notifier", "Outbox", "OutboxEntry",
           "Pipeline", "Roster", "Shift", "SmsChannel", "WebhookChannel", "build_channels", "recipient_for",
           "summarize"]
