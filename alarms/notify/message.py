"""The value every channel delivers: one message to one recipient."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class Message:
    """One notification for one recipient over one named channel.

    ``recipient`` is what the channel needs (an e-mail address, a phone number,
    a URL); ``payload`` is optional structured data (webhooks send it as JSON);
    ``source`` says what caused it (an alarm id, ``"business:notice:42"``).
    """

    channel: str
    recipient: str
    subject: str
    body: str
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str = ""
