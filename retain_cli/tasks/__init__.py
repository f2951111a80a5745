"""The owner's day: tasks made by rules (:mod:`.rules`), the to-do list (:mod:`.todo`), the
daily digest (:mod:`.digest`) and the owner's hand on sending: pause, the approval queue,
tags such as ``human_only`` (:mod:`.control`)."""

from __future__ import annotations

from retain_cli.tasks.rules import Refresh, refresh
from retain_cli.tasks.todo import list_tasks, mark_done, snooze, task_detail

__all__ = ["Refresh", "list_tasks", "mark_done", "refresh", "snooze", "task_detail"]
