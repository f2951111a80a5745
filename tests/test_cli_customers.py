"""`retain init`, `retain demo`, `retain customers list/show` and `retain status`, end to end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from retain_cli import resources
from retain_cli.store import Store

FIXTURES = Path(__file__).parent / "data" / "customers"
REPO = Path(__file__).resolve().parents[1]
TODAY = "2026-06-30"


@pytest.fixture
def fake_examples(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bundled examples replaced by a small stand-in set (one config, two templates)."""
    root = FIXTURES / "resources"
    monkeypatch.setattr(resources, "resource_roots", lambda: [root])
    return root


@pytest.fixture
def no_examples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-examples"
    empty.mkdir()
    monkeypatch.setattr(resources, "resource_roots", lambda: [empty])


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# -- init ----------------------------------------------------------------------------------


def test_init_creates_database_config_and_templates(cli, tmp_path, fake_examples):
    result = cli("init", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created shop",
        "created shop/retain.db",
        "created shop/campaigns.yaml",
        "created shop/templates",
        "created shop/templates/hello.html.j2",
        "created shop/templates/hello.txt.j2",
    ]
    shop = tmp_path / "shop"
    assert (shop / "campaigns.yaml").read_bytes() == (
        fake_examples / "campaigns.example.yaml"
    ).read_bytes()
    assert (shop / "templates" / "hello.txt.j2").read_text() == "Hello {{ customer.first_name }}\n"
    with Store.open(shop / "retain.db", create=False) as store:
        assert "m001_initial" in store.applied_migrations()


def test_init_twice_keeps_every_file(cli, tmp_path, fake_examples):
    assert cli("init", "shop").exit_code == 0
    shop = tmp_path / "shop"
    (shop / "campaigns.yaml").write_text("# my own campaigns\n")
    (shop / "templates" / "hello.txt.j2").write_text("Hi there\n")
    (shop / "templates" / "hello.html.j2").unlink()

    result = cli("init", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created shop/templates/hello.html.j2",
        "kept    shop/retain.db (already there)",
        "kept    shop/campaigns.yaml (already there)",
        "kept    shop/templates/hello.txt.j2 (already there)",
    ]
    assert (shop / "campaigns.yaml").read_text() == "# my own campaigns\n"
    assert (shop / "templates" / "hello.txt.j2").read_text() == "Hi there\n"


def test_init_keeps_the_data_in_an_existing_database(cli, tmp_path, fake_examples):
    assert cli("init", "shop").exit_code == 0
    db = tmp_path / "shop" / "retain.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO customers (customer_id, email, source, created_at, updated_at) "
        "VALUES ('c1', 'a@example.com', 'test', 'x', 'x')"
    )
    conn.commit()
    conn.close()
    assert cli("init", "shop").exit_code == 0
    assert _count(db, "SELECT count(*) FROM customers") == 1


def test_init_defaults_to_the_current_folder(cli, tmp_path, fake_examples):
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "created retain.db"
    assert (tmp_path / "retain.db").exists()
    assert (tmp_path / "campaigns.yaml").exists()


def test_init_without_bundled_examples_still_creates_the_database(cli, tmp_path, no_examples):
    result = cli("init", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created shop",
        "created shop/retain.db",
        "No example campaign file or templates in this install.",
    ]
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == ["retain.db"]


def test_init_on_a_file_fails_and_changes_nothing(cli, tmp_path, fake_examples):
    (tmp_path / "shop").write_text("not a folder")
    result = cli("init", "shop")
    assert result.exit_code == 1
    assert result.stderr == "Error: shop is a file, not a folder; pass another folder to init\n"
    assert (tmp_path / "shop").read_text() == "not a folder"


def test_init_copies_the_repositorys_examples(cli, tmp_path):
    example = REPO / "campaigns.example.yaml"
    templates = sorted((REPO / "templates").glob("*.j2"))
    assert example.exists() and templates, "the repository ships its examples"
    assert cli("init", "shop").exit_code == 0
    shop = tmp_path / "shop"
    assert (shop / "campaigns.yaml").read_bytes() == example.read_bytes()
    assert sorted(p.name for p in (shop / "templates").iterdir()) == [p.name for p in templates]


def test_resources_are_found_at_the_repo_root_then_under_share():
    roots = resources.resource_roots()
    assert roots[0] == REPO
    assert any(r.parts[-2:] == ("share", "retain") for r in roots[1:])
    assert resources.example_campaigns() == REPO / "campaigns.example.yaml"
    assert REPO / "templates" / "win_back.txt.j2" in resources.template_files()


def test_resources_from_an_installed_share_folder(monkeypatch, tmp_path):
    share = tmp_path / "prefix" / "share" / "retain"
    (share / "templates").mkdir(parents=True)
    (share / "campaigns.example.yaml").write_text("sender: {}\n")
    (share / "templates" / "a.txt.j2").write_text("a\n")
    monkeypatch.setattr(resources, "resource_roots", lambda: [tmp_path / "site", share])
    assert resources.example_campaigns() == share / "campaigns.example.yaml"
    assert resources.template_files() == [share / "templates" / "a.txt.j2"]
