"""The demo accounts read true on whatever day they are seeded: an overdue invoice was due before today, an
open one is not yet due, nothing is issued or paid before it exists."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.store.demo import demo_accounts

# Every day of two months, the turn of a year and a leap February included.
DAYS = [date(2026, 12, 1) + timedelta(days=n) for n in range(62)] + [date(2028, 2, 29)]


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_invoice_and_payment_dates_agree_with_their_status(today: date) -> None:
    for account in demo_accounts(today):
        for contract in account.contracts:
            for invoice in contract.invoices:
                assert invoice.period_start < invoice.period_end < invoice.issue_date <= today, invoice.number
                assert invoice.issue_date < invoice.due_date
                if invoice.status == "overdue":
                    assert invoice.due_date < today, (invoice.number, invoice.due_date)
                if invoice.status == "open":
                    assert invoice.due_date >= today, (invoice.number, invoice.due_date)
            issued = {i.number: i.issue_date for i in contract.invoices}
            for payment in contract.payments:
                for number, issue_date in issued.items():
                    if payment.status in ("paid", "failed") and number in payment.description:
                        assert payment.date >= issue_date, (payment.description, payment.date)
