"""Trust: explain any customer, privacy operations with an audit log, a fairness check, and
``retain doctor``.

The few names other packages use: :func:`explain_customer`, :func:`export_customer`,
:func:`erase_customer`, :func:`purge`, :func:`audit_log`, :func:`fairness`,
:func:`run_doctor`, :func:`permission_problem`. Each module imports what it needs lazily,
so importing this package stays cheap.
"""

from __future__ import annotations

from retain_cli.trust.audit import audit_log
from retain_cli.trust.privacy import erase_customer, export_customer, permission_problem, purge

__all__ = [
    "audit_log",
    "erase_customer",
    "explain_customer",
    "export_customer",
    "fairness",
    "permission_problem",
    "purge",
    "run_doctor",
]


def __getattr__(name: str) -> object:
    if name == "explain_customer":
        from retain_cli.trust.explain import explain_customer

        return explain_customer
    if name == "fairness":
        from retain_cli.trust.fairness import fairness

        return fairness
    if name == "run_doctor":
        from retain_cli.trust.doctor import run_doctor

        return run_doctor
    raise AttributeError(name)
