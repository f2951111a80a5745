"""Survey campaigns through the CLI: the survey template and its signed links, answers from
replies (retain inbox) and from a form export (retain import responses), survey fatigue,
negative feedback never auto-answered (a task, a hold), retain feedback and retain metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retain_cli.campaigns.survey import SECRET_NAME, leading_score, survey_token
from retain_cli.demo import mail
from retain_cli.store import Store

SHOP = "hello@kornblume-backstube.de"
FORM = "https://forms.example/f?t={token}&s={score}"
SURVEY = f"""  - name: how-was-it
    audience: all
    survey: {{type: nps, form: "{FORM}"}}
    subject: "A quick question"
    template: templates/survey.txt.j2
  - name: news
    audience: all
    subject: "News"
    template: templates/hello.txt.j2
    enabled: false
"""
TEMPLATE = """{{ survey.question }}
{{ survey.reply_hint }}
{% for link in survey.links %}{{ link.score }}: {{ link.url }}
{% endfor %}"""
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def survey_shop(campaign_shop: Path) -> Path:
    text = campaign_shop.read_text().replace("campaigns:\n", "campaigns:\n" + SURVEY, 1)
    campaign_shop.write_text(text)
    (campaign_shop.parent / "templates" / "survey.txt.j2").write_text(TEMPLATE)
    return campaign_shop


def send_survey(cli, config: Path, db: Path) -> dict[str, tuple[str, str]]:
    result = cli("send", "how-was-it", "--yes", "--config", str(config))
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        rows = store.conn.execute("SELECT email, send_key, message_id FROM sends").fetchall()
    return {email: (key, mid) for email, key, mid in rows}


def answer(sender: str, text: str, in_reply_to: str | None) -> bytes:
    return mail.reply(
        sender=sender,
        name=sender.split("@")[0].title(),
        to=SHOP,
        subject="A quick question",
        text=text,
        in_reply_to=in_reply_to,
        quoted="How likely are you to recommend us?",
        when=WHEN,
    )


def responses(db: Path) -> list[tuple]:
    with Store.open(db) as store:
        return store.conn.execute(
            "SELECT email, kind, score, comment, source FROM survey_responses ORDER BY email"
        ).fetchall()


def test_the_survey_message_carries_signed_links(cli, survey_shop, db_path):
    sent = send_survey(cli, survey_shop, db_path)
    assert set(sent) == {"ada@example.com", "bob@example.com", "nora@example.com"}
    with Store.open(db_path) as store:
        secret = store.secret(SECRET_NAME)
    body = next((survey_shop.parent / "outbox" / "how-was-it").glob("*.eml")).read_text()
    emails = [e for e in sent if e in body]
    assert len(emails) == 1
    token = survey_token(secret, sent[emails[0]][0])
    assert "How likely are you to recommend Kornblume Bakery to a friend?" in body
    assert "Just reply with a number from 0 to 10" in body
    assert f"9: https://forms.example/f?t={token}&s=9\n" in body
    assert len(token) == 16


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("9", "nps", (9, "")),
        ("9 - great bread", "nps", (9, "great bread")),
        ("10/10, lovely", "nps", (10, "lovely")),
        ("4 stars", "csat", (4, "")),
        ("9.5 nice", "nps", None),
        ("11", "nps", None),
        ("6", "csat", None),
        ("Can I come by at 9?", "nps", None),
    ],
)
def test_a_reply_starts_with_the_score(text, kind, expected):
    assert leading_score(text, kind) == expected


def test_inbox_reads_answers_and_a_detractor_becomes_a_task(cli, survey_shop, db_path, maildir):
    sent = send_survey(cli, survey_shop, db_path)
    box = maildir(
        [
            answer("ada@example.com", "9 - lovely bread, thank you", sent["ada@example.com"][1]),
            answer(
                "bob@example.com",
                "3\nThe bread was stale and the delivery was late.",
                sent["bob@example.com"][1],
            ),
            answer(
                "nora@example.com", "Can I order a cake for Sunday?", sent["nora@example.com"][1]
            ),
            answer("eve@example.com", "10", None),  # no survey went to eve: a reply
        ],
    )
    result = cli("inbox", "--from-maildir", str(box), "--config", str(survey_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["survey answers"] == 2
    assert summary["replies"] == 2
    assert responses(db_path) == [
        ("ada@example.com", "nps", 9, "lovely bread, thank you", responses(db_path)[0][4]),
        (
            "bob@example.com",
            "nps",
            3,
            "The bread was stale and the delivery was late.",
            responses(db_path)[1][4],
        ),
    ]
    assert responses(db_path)[0][4].startswith("inbox:mid:<")
    # the same mailbox again changes nothing
    again = cli("inbox", "--from-maildir", str(box), "--config", str(survey_shop), "-f", "json")
    assert json.loads(again.stdout)["summary"]["already processed"] == 4
    assert len(responses(db_path)) == 2

    tasks = json.loads(
        cli("tasks", "--now", "2026-03-02T12:00", "--config", str(survey_shop), "-f", "json").stdout
    )
    kinds = {(t["kind"], t["email"]): t for t in tasks}
    detractor = kinds[("detractor", "bob@example.com")]
    assert detractor["title"] == "Detractor: bob@example.com scored 3/10"
    assert detractor["due_at"] == "2026-03-04T09:30:00Z"  # 48 hours after the answer
    assert "No campaign writes to them until this task is done." in detractor["action"]
    assert ("reply", "nora@example.com") in kinds
    assert not any(k == "ada@example.com" for _, k in kinds)  # a promoter: no task

    # never auto-answered: bob is left out of every campaign until the task is done
    text = survey_shop.read_text().replace("    enabled: false\n", "")
    survey_shop.write_text(text)
    plan = json.loads(cli("plan", "news", "--config", str(survey_shop), "-f", "json").stdout)
    reasons = {i["email"]: (i["status"], i["reason"]) for i in plan["items"]}
    assert reasons["bob@example.com"] == (
        "left_out",
        f"negative feedback not answered yet (task {detractor['id']})",
    )
    assert reasons["ada@example.com"][0] == "due"
    cli("tasks", "done", str(detractor["id"]), "--note", "called him, new loaf sent")
    plan = json.loads(cli("plan", "news", "--config", str(survey_shop), "-f", "json").stdout)
    assert {i["email"]: i["status"] for i in plan["items"]}["bob@example.com"] == "due"


def test_import_responses_matches_tokens_and_lists_bad_rows(cli, survey_shop, db_path, tmp_path):
    sent = send_survey(cli, survey_shop, db_path)
    with Store.open(db_path) as store:
        secret = store.secret(SECRET_NAME)
    nora = survey_token(secret, sent["nora@example.com"][0])
    ada = survey_token(secret, sent["ada@example.com"][0])
    export = tmp_path / "form.csv"
    export.write_text(
        "Timestamp,How likely are you to recommend us?,Anything else?,ref\n"
        f"2026-03-02 10:15:00,10,Super Brötchen und Kaffee,{nora}\n"
        "2026-03-02 10:16:00,8,,deadbeefdeadbeef\n"
        f"2026-03-02 10:17:00,11,too high,{ada}\n"
        "2026-03-02 10:18:00,7,no token,\n",
        encoding="utf-8",
    )
    result = cli(
        "import", "responses", str(export), "--map", "token=ref", "--config", str(survey_shop)
    )
    assert result.exit_code == 3, result.output
    out = result.output
    assert "form.csv line 3: token 'deadbeefdeadbeef' matches no survey message" in out
    assert "form.csv line 4: score '11' is not on the NPS scale 0-10" in out
    assert "form.csv line 5: no token (an answer not from a survey link)" in out
    assert responses(db_path) == [
        ("nora@example.com", "nps", 10, "Super Brötchen und Kaffee", "form:form.csv")
    ]
    with Store.open(db_path) as store:
        answered = store.conn.execute("SELECT answered_at FROM survey_responses").fetchone()[0]
    assert answered == "2026-03-02T10:15:00Z"  # the shop's time zone is UTC here
    again = cli(
        "import",
        "responses",
        str(export),
        "--map",
        "token=ref",
        "-f",
        "json",
        "--config",
        str(survey_shop),
    )
    summary = json.loads(again.stdout)["summary"]
    assert (summary["new answers"], summary["unchanged"]) == (0, 1)

    missing = tmp_path / "other.csv"
    missing.write_text("when,score\n2026-03-02,9\n")
    result = cli("import", "responses", str(missing), "--config", str(survey_shop))
    assert result.exit_code == 1
    assert (
        f"Error: {missing}: no token column found (columns: when, score); pass --map "
        "token=COLUMN" in result.output.replace("\n", " ")
    )


def test_survey_fatigue_leaves_recently_asked_customers_out(cli, survey_shop, db_path):
    send_survey(cli, survey_shop, db_path)
    text = survey_shop.read_text().replace(
        "  - name: news\n",
        "  - name: csat-check\n    audience: all\n    survey: csat\n"
        '    subject: "Happy?"\n    template: templates/survey.txt.j2\n  - name: news\n',
    )
    survey_shop.write_text(text)
    plan = json.loads(cli("plan", "csat-check", "--config", str(survey_shop), "-f", "json").stdout)
    today = datetime.now(UTC).date().isoformat()
    reasons = {i["email"]: i["reason"] for i in plan["items"]}
    assert reasons["ada@example.com"] == (
        f"survey fatigue (asked on {today}; no survey within 90d)"
    )


def test_feedback_report_scores_sentiment_and_themes(cli, survey_shop, db_path, maildir):
    sent = send_survey(cli, survey_shop, db_path)
    box = maildir(
        [
            answer("ada@example.com", "9 - lovely bread, thank you", sent["ada@example.com"][1]),
            answer("bob@example.com", "3 stale bread and rude staff", sent["bob@example.com"][1]),
            answer("nora@example.com", "10 Das Brot ist wunderbar", sent["nora@example.com"][1]),
        ],
    )
    assert cli("inbox", "--from-maildir", str(box), "--config", str(survey_shop)).exit_code == 0
    now = ("--now", "2026-03-03T12:00", "--config", str(survey_shop))
    data = json.loads(cli("feedback", *now, "-f", "json").stdout)
    nps = data["scores"]["nps"]
    assert (nps["n"], nps["score"], nps["promoters"], nps["detractors"]) == (3, 33.3, 2, 1)
    assert nps["distribution"]["9"] == 1 and nps["distribution"]["3"] == 1
    assert nps["warning"].startswith("only 3 answers: fewer than 30")
    assert data["trend"]["nps"] == [
        {"month": "2026-03", "n": 3, "score": 33.3, "margin_95": nps["margin_95"]}
    ]
    comments = data["comments"]
    assert (comments["positive"], comments["negative"], comments["unscored"]) == (1, 1, 1)
    assert comments["unscored_languages"] == {"de": 1}
    assert {"theme": "bread", "comments": 2, "unhappy": 1, "average_score": 6.0} in data["themes"]
    text = cli("feedback", *now).output
    assert "NPS 33 ±" in text
    assert "(n=3)" in text
    assert "unscored (de 1): VADER reads English only" in text

    metrics = cli("metrics", "--as-of", "2026-03-03")
    assert "NPS 33 ±" in metrics.output
    assert "the last 90 days ('retain feedback')" in metrics.output


def test_a_promoter_may_get_a_thank_you_a_detractor_never(cli, survey_shop, db_path, maildir):
    sent = send_survey(cli, survey_shop, db_path)
    box = maildir(
        [
            answer("ada@example.com", "10", sent["ada@example.com"][1]),
            answer("bob@example.com", "2 - cold coffee", sent["bob@example.com"][1]),
        ],
    )
    assert cli("inbox", "--from-maildir", str(box), "--config", str(survey_shop)).exit_code == 0
    text = survey_shop.read_text().replace(
        "  - name: news\n",
        "  - name: thanks\n    audience: all\n    trigger: {after: promoter, days: 0}\n"
        '    subject: "Thank you"\n    template: templates/hello.txt.j2\n  - name: news\n',
    )
    survey_shop.write_text(text)
    plan = json.loads(
        cli(
            "plan",
            "thanks",
            "--now",
            "2026-03-03T10:00",
            "--config",
            str(survey_shop),
            "-f",
            "json",
        ).stdout
    )
    due = [(i["email"], i["key"]) for i in plan["items"] if i["status"] == "due"]
    assert due == [("ada@example.com", "thanks:1:C1:2026-03-02")]
    assert "bob@example.com" not in {i["email"] for i in plan["items"]}
