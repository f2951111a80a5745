"""Measurement: what campaigns did against their holdouts (with intervals), goals and
baselines, and the HTML report. Uses campaigns/, analytics/ and store/; nothing below it
imports it.

The names other packages use: :func:`campaign_report` (``retain report``),
:func:`plan_power` (what ``retain plan`` says a campaign could detect).
"""

from __future__ import annotations

from retain_cli.measure.report import campaign_report

__all__ = ["campaign_report"]
