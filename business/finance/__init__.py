"""Finance: fee items, billing runs, meters, payments, a double-entry ledger, budgets, statements.

Money is integer fen (``int``) inside the package and in the database, and a
``Decimal`` yuan string (``"123.45"``) in JSON; never float. Ledger entries are
append-only (database triggers refuse UPDATE and DELETE); corrections are
reversing entries. See docs/finance.md.
"""
