"""Finance tables. Money columns are integer fen (BigInteger): exact on SQLite and PostgreSQL.

Prices and quantities are exact decimal strings (SQLite has no exact NUMERIC).
``fin_entries``, ``fin_postings``, ``fin_allocations``, ``fin_callbacks`` are
append-only (triggers in migration 0301), and so is ``fin_year_closings``
(0303); other rows change only in the columns named in their docstrings.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..models.base import Base, JSONType, UTCDateTime

ACCOUNT_TYPES = ("asset", "liability", "equity", "revenue", "expense")


class Account(Base):
    """An account of the chart: ``code`` (e.g. ``1122``), type, name, optional fee item it is the revenue of."""

    __tablename__ = "fin_accounts"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120), default="")
    type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="")  # cash, receivable, prepaid, ... (cash flow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Entry(Base):
    """A posted journal entry (immutable). ``ref`` makes posting idempotent (``payment:<provider>:<id>``)."""

    __tablename__ = "fin_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(24))   # bill late_fee payment prepaid_apply refund expense ...
    date: Mapped[date] = mapped_column(Date, index=True)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    property_id: Mapped[int | None] = mapped_column(Integer, index=True)
    memo: Mapped[str] = mapped_column(String(400), default="")
    actor: Mapped[str] = mapped_column(String(64), default="")
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("fin_entries.id"), unique=True)


class Posting(Base):
    """One line of an entry: ``amount`` fen, positive = debit, negative = credit.

    ``date`` and ``property_id`` repeat the entry's so statements aggregate one table.
    """

    __tablename__ = "fin_postings"
    # covering index: statements sum amounts by account, date range and property from the index alone
    __table_args__ = (Index("ix_fin_postings_statement", "account", "date", "property_id", "amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("fin_entries.id"), index=True)
    account: Mapped[str] = mapped_column(ForeignKey("fin_accounts.code"))
    amount: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[date] = mapped_column(Date)
    property_id: Mapped[int | None] = mapped_column(Integer)
    building_id: Mapped[int | None] = mapped_column(Integer, index=True)
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)


class FeeItem(Base):
    """A fee item: formula ``kind`` and its ``params`` (decimal strings), cycle, due and grace days."""

    __tablename__ = "fin_fee_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    params: Mapped[dict] = mapped_column(JSONType, default=dict)
    cycle_months: Mapped[int] = mapped_column(Integer, default=1)
    prepaid: Mapped[bool] = mapped_column(Boolean, default=False)
    due_days: Mapped[int] = mapped_column(Integer, default=15)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    account: Mapped[str] = mapped_column(ForeignKey("fin_accounts.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class BillingRun(Base):
    """A posted billing run for one period; ``summary`` holds counts, totals, held lines and losses."""

    __tablename__ = "fin_billing_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(Integer, index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[dict] = mapped_column(JSONType, default=dict)


class Bill(Base):
    """A bill of one subject (``unit:<id>`` / ``space:<id>``) for one period; unique per (period, subject).

    ``status`` (open, paid, void) is the only column that changes.
    """

    __tablename__ = "fin_bills"
    __table_args__ = (UniqueConstraint("period", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_no: Mapped[str] = mapped_column(String(32), unique=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("fin_billing_runs.id"), index=True)
    property_id: Mapped[int] = mapped_column(Integer, index=True)
    building_id: Mapped[int | None] = mapped_column(Integer, index=True)
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    space_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(16))
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    grace_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="open")
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("fin_entries.id"))


class BillLine(Base):
    """One line of a bill: a charge, discount, adjustment or late fee; ``held`` lines are not billed.

    ``detail`` explains the amount (area × price, meter readings with timestamps and quality, tiers).
    """

    __tablename__ = "fin_bill_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("fin_bills.id"), index=True)
    fee_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="charge")  # charge discount adjustment late_fee
    description: Mapped[str] = mapped_column(String(400), default="")
    quantity: Mapped[str] = mapped_column(String(40), default="1")
    unit_price: Mapped[str] = mapped_column(String(40), default="0")
    amount: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[str] = mapped_column(String(16))
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("fin_entries.id"), index=True)


class Allocation(Base):
    """Money settled against a bill line (append-only): payment, prepaid application, or void (negative rows undo)."""

    __tablename__ = "fin_allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("fin_bill_lines.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("fin_entries.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("fin_payments.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # payment prepaid void
    amount: Mapped[int] = mapped_column(BigInteger)


class Payment(Base):
    """A receipt (sequential ``receipt_no``) or refund; ``external_ref`` makes provider callbacks idempotent."""

    __tablename__ = "fin_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(12), default="payment")  # payment refund
    method: Mapped[str] = mapped_column(String(24))  # cash card bank_transfer online
    provider: Mapped[str] = mapped_column(String(32), default="")
    external_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    property_id: Mapped[int] = mapped_column(Integer, index=True)
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64), default="")
    entry_id: Mapped[int] = mapped_column(ForeignKey("fin_entries.id"))
    memo: Mapped[str] = mapped_column(String(400), default="")


class PaymentOrder(Base):
    """An online payment a resident started; the provider callback settles it (``status`` changes once)."""

    __tablename__ = "fin_payment_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(40), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    property_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(Integer, index=True)
    bill_ids: Mapped[list] = mapped_column(JSONType, default=list)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending paid
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64), default="")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("fin_payments.id"))


class Callback(Base):
    """Every provider callback received, accepted or refused, with the reason (append-only)."""

    __tablename__ = "fin_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    order_no: Mapped[str] = mapped_column(String(40), default="")
    external_ref: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(16))  # accepted duplicate refused
    reason: Mapped[str] = mapped_column(String(400), default="")
    body: Mapped[str] = mapped_column(Text, default="")


class Expense(Base):
    """A supplier invoice (``status`` open → paid); ``source`` names work orders or meters it came from."""

    __tablename__ = "fin_expenses"

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(Integer, index=True)
    building_id: Mapped[int | None] = mapped_column(Integer)
    supplier: Mapped[str] = mapped_column(String(200))
    invoice_no: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(ForeignKey("fin_accounts.code"))
    amount: Mapped[int] = mapped_column(BigInteger)
    invoice_date: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(12), default="open")
    entry_id: Mapped[int] = mapped_column(ForeignKey("fin_entries.id"))
    __table_args__ = (UniqueConstraint("supplier", "invoice_no"),)


class Budget(Base):
    """Budget of one account (and optionally one building) for one month of a year."""

    __tablename__ = "fin_budgets"
    __table_args__ = (UniqueConstraint("property_id", "year", "month", "account", "building_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(ForeignKey("fin_accounts.code"))
    building_id: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)


class Reminder(Base):
    """A dunning reminder queued for a bill at one step (unique: each step is sent once)."""

    __tablename__ = "fin_reminders"
    __table_args__ = (UniqueConstraint("bill_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("fin_bills.id"))
    step: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(200))
    outbox_id: Mapped[int | None] = mapped_column(Integer)


class YearClosing(Base):
    """One year-end closing or reopening of a property's fiscal year (append-only; the latest row wins).

    ``entry_id`` is the closing entry (or its reversal when reopening); None when
    the year had no revenue or expense to close. ``net`` is the year's result in fen.
    """

    __tablename__ = "fin_year_closings"
    __table_args__ = (Index("ix_fin_year_closings_property_year", "property_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    property_id: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))  # close reopen
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("fin_entries.id"))
    net: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(400), default="")
