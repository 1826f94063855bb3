"""The chart of accounts of a property-management company (PRC-style codes).

``category`` groups accounts for the cash-flow statement and the statements'
sections. Revenue accounts per fee type are 5xxx; a fee item names its revenue
account. :func:`ensure_chart` inserts what is missing and never changes or
removes an account that postings may refer to (4103 keeps its code; databases
created before 4104 existed keep 4103's old English name "Retained earnings").
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Account

# code, type, category, English name, Chinese name
CHART: tuple[tuple[str, str, str, str, str], ...] = (
    ("1001", "asset", "cash", "Cash on hand", "库存现金"),
    ("1002", "asset", "cash", "Bank deposits", "银行存款"),
    ("1012", "asset", "cash", "Online payment clearing", "其他货币资金-线上收款"),
    ("1122", "asset", "receivable", "Fee receivables", "应收账款-物业费"),
    ("1221", "asset", "other_receivable", "Other receivables", "其他应收款"),
    ("1601", "asset", "fixed_asset", "Fixed assets", "固定资产"),
    ("2202", "liability", "payable", "Accounts payable (suppliers)", "应付账款"),
    ("2203", "liability", "prepaid", "Prepaid fees received", "预收账款"),
    ("2241", "liability", "deposit", "Deposits held", "其他应付款-押金"),
    ("2211", "liability", "payroll", "Payroll payable", "应付职工薪酬"),
    ("4001", "equity", "equity", "Paid-in capital", "实收资本"),
    ("4103", "equity", "equity", "Current-year profit", "本年利润"),
    ("4104", "equity", "equity", "Retained earnings (undistributed profit)", "利润分配-未分配利润"),
    ("5101", "revenue", "fees", "Property management fees", "物业管理费收入"),
    ("5102", "revenue", "fees", "Electricity fees", "电费收入"),
    ("5103", "revenue", "fees", "Water fees", "水费收入"),
    ("5104", "revenue", "fees", "Shared common-area utilities", "公摊能耗收入"),
    ("5105", "revenue", "fees", "Parking rental", "车位租赁收入"),
    ("5106", "revenue", "fees", "Temporary parking", "临时停车收入"),
    ("5107", "revenue", "fees", "Other service charges", "其他服务收入"),
    ("5201", "revenue", "late_fee", "Late-fee income", "滞纳金收入"),
    ("6401", "expense", "energy", "Energy (common areas)", "公共能耗"),
    ("6402", "expense", "repairs", "Repairs and maintenance (parts and labour)", "维修养护费"),
    ("6403", "expense", "cleaning", "Cleaning", "保洁费"),
    ("6404", "expense", "security", "Security", "秩序维护费"),
    ("6405", "expense", "greening", "Landscaping", "绿化费"),
    ("6406", "expense", "payroll", "Staff costs", "人工成本"),
    ("6407", "expense", "admin", "Administration", "管理费用"),
    ("6408", "expense", "bank", "Bank and payment fees", "财务费用"),
)

CASH_ACCOUNTS = ("1001", "1002", "1012")
RECEIVABLE = "1122"
PREPAID = "2203"
DEPOSITS = "2241"
PAYABLE = "2202"
LATE_FEE_INCOME = "5201"
CURRENT_YEAR_PROFIT = "4103"    # 本年利润: takes revenue and expenses at year end (closing.py)
RETAINED_EARNINGS = "4104"      # 利润分配-未分配利润: where each closed year's result ends up
METHOD_ACCOUNT = {"cash": "1001", "card": "1002", "bank_transfer": "1002", "online": "1012"}


def ensure_chart(session: Session) -> int:
    """Insert the standard accounts that are missing; returns how many were added."""
    have = set(session.scalars(select(Account.code)))
    added = 0
    for code, typ, cat, name, name_zh in CHART:
        if code not in have:
            session.add(Account(code=code, type=typ, category=cat, name=name, name_zh=name_zh, active=True))
            added += 1
    if added:
        session.flush()
    return added


def accounts(session: Session) -> dict[str, Account]:
    """Every account by code."""
    return {a.code: a for a in session.scalars(select(Account))}
