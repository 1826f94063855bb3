"""REST for year-end closing under ``/api/v1/finance/closing`` (mounted by :class:`business.finance.api.FinanceResource`).

- ``GET /finance/closing``: closed years, the lock date and every closing and
  reopening (``finance.read``);
- ``POST /finance/closing`` ``{year}``: close a finished year (``finance.write``);
  201 with the closing entry, or 200 with the existing closing when the year
  is closed already;
- ``POST /finance/closing/<year>/reopen`` ``{reason}``: reverse the closing
  (``finance.reopen``, which only administrators hold); the reason is required
  and goes to the audit log.
"""

from __future__ import annotations

from ..api.base import read_json
from ..errors import BadRequest, NotFound
from . import closing, ledger
from .api import _Base, _int


def _body(request) -> dict:
    body = read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("a JSON object is required", {"body": "must be an object"})
    return body


def _out(s, result: closing.Closing) -> dict:
    return {**closing.closing_json(result.row),
            "entry": ledger.entry_json(s, result.entry) if result.entry is not None else None}


class ClosingResource(_Base):
    """GET the closed years; POST closes a year; POST <year>/reopen reopens one."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")
        if self.path(request):
            raise NotFound("use GET /finance/closing")
        return 200, await self.api.db.run(lambda s: closing.status(s, self.app.prepare(s)))

    async def handle_POST(self, request, principal):
        parts = self.path(request)
        now, actor = self.api.clock(), principal.user
        if not parts:
            self.require(principal, "finance.write")
            year = _int(_body(request).get("year"), "year")

            def close(s):
                result = closing.close_year(s, self.app.prepare(s), year, actor, now)
                return result.created, _out(s, result)
            created, out = await self.run_retrying(close)
            return (201 if created else 200), out
        if len(parts) != 2 or parts[1] != "reopen":
            raise NotFound("use POST /finance/closing or /finance/closing/<year>/reopen")
        self.require(principal, "finance.reopen")
        year = _int(parts[0], "year")
        reason = str(_body(request).get("reason", ""))

        def reopen(s):
            return _out(s, closing.reopen_year(s, self.app.prepare(s), year, actor, now, reason))
        return 201, await self.api.db.run(reopen)


__all__ = ["ClosingResource"]
