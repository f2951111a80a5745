"""Tables stay readable in a narrow terminal: text folds instead of being cut off."""

from __future__ import annotations

from rich.console import Console

from retain_cli.cli import output
from retain_cli.cli.options import OutputFormat


def test_narrow_table_folds_long_text_instead_of_cutting_it(monkeypatch):
    narrow = Console(width=60, record=True)
    monkeypatch.setattr(output, "console", narrow)
    email = "wojciech.szczepanski-kowalczyk@example.com"
    rows = [{"customer_id": "7283748237101", "email": email, "orders": 12, "total": 1204.5}]
    output.render_rows(rows, ["customer_id", "email", "orders", "total"], OutputFormat.table)
    text = narrow.export_text()
    assert "…" not in text
    body = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    assert "".join(cells[2].strip() for cells in body) == email
    assert body[0][1].strip() == "7283748237101"


def test_summary_keeps_long_messages_whole(monkeypatch):
    narrow = Console(width=50, record=True)
    monkeypatch.setattr(output, "console", narrow)
    message = "stopped: the daily limit of 500 messages is reached; the rest go tomorrow"
    output.render_mapping({"sent": 500, "stopped": message}, OutputFormat.table)
    text = narrow.export_text()
    assert "…" not in text
    assert all(word in text for word in message.split())
