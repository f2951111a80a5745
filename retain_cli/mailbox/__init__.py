"""The mailbox loop: ``retain inbox`` reads the shop's mailbox (IMAP, or a maildir folder)
and brings replies, unsubscribe requests and bounces back into retain.

The few names other packages use: :func:`run_inbox`, :func:`explain`, :class:`InboxResult`,
:func:`cron_mailbox`.
"""

from __future__ import annotations

from retain_cli.mailbox.config import cron_mailbox
from retain_cli.mailbox.process import InboxResult, explain, process, run_inbox

__all__ = ["InboxResult", "cron_mailbox", "explain", "process", "run_inbox"]
