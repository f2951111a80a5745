"""``retain import customers``: birthdays written day/month, and consent in the languages
shops export in."""

from __future__ import annotations

import json

import pytest
from csvfiles import notes, rows, write


def test_consent_words_in_the_shop_languages(cli, db_path, tmp_path):
    words = {
        "ja": 1, "Nein": 0, "oui": 1, "non": 0, "Sí": 1, "si": 1, "no": 0, "wahr": 1,
        "falsch": 0, "TRUE": 1, "false": 0, "yes": 1, "1": 1, "0": 0, "subscribed": 1,
        "sim": 1, "não": 0, "nee": 0, "vrai": 1, "faux": 0,
    }  # fmt: skip
    body = "".join(f"p{i}@x.com,{word}\n" for i, word in enumerate(words))
    body += "out@x.com,Unsubscribed\naus@x.com,abgemeldet\nfin@x.com,désabonné\n"
    source = write(tmp_path / "people.csv", "email,newsletter\n" + body)
    result = cli("import", "customers", str(source), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == 0
    stored = dict(rows(db_path, "SELECT email, accepts_marketing FROM customers"))
    assert {f"p{i}@x.com": stored[f"p{i}@x.com"] for i in range(len(words))} == {
        f"p{i}@x.com": value for i, value in enumerate(words.values())
    }
    # an explicit opt-out is kept from every later import
    assert rows(db_path, "SELECT email FROM suppressions ORDER BY 1") == [
        ("aus@x.com",),
        ("fin@x.com",),
        ("out@x.com",),
    ]


def test_an_unknown_consent_word_is_left_out_with_a_warning(cli, db_path, tmp_path):
    source = write(tmp_path / "people.csv", "email,newsletter\na@x.com,vielleicht\n")
    result = cli("import", "customers", str(source))
    assert result.exit_code == 3
    assert notes(tmp_path / "people.csv.warnings.csv") == [
        "newsletter: cannot read marketing consent 'vielleicht' (expected yes or no) "
        "(imported without it)"
    ]
    assert rows(db_path, "SELECT email, accepts_marketing FROM customers") == [("a@x.com", None)]


BIRTHDAYS = (
    "email,birthday\n"
    "a@x.com,14.03.1985\n"
    "b@x.com,14/03/1985\n"
    "c@x.com,03.04.1990\n"
    "d@x.com,--06-23\n"
    "e@x.com,1985-03-14\n"
    "f@x.com,31.12.\n"
)


@pytest.mark.parametrize(
    "options,c_birthday",
    [
        (["--date-format", "DD.MM.YYYY"], "1990-04-03"),
        (["--date-format", "%d.%m.%Y"], "1990-04-03"),
        # no option: the file's birthdays written day-first (14.03.) tell how 03.04. reads
        ([], "1990-04-03"),
    ],
)
def test_birthdays_written_day_first(cli, db_path, tmp_path, options, c_birthday):
    source = write(tmp_path / "people.csv", BIRTHDAYS)
    result = cli("import", "customers", str(source), *options, "--format", "json")
    assert result.exit_code == 0, result.output
    assert rows(db_path, "SELECT email, birthday FROM customers ORDER BY 1") == [
        ("a@x.com", "1985-03-14"),
        ("b@x.com", "1985-03-14"),
        ("c@x.com", c_birthday),
        ("d@x.com", "--06-23"),
        ("e@x.com", "1985-03-14"),
        ("f@x.com", "--12-31"),
    ]


def test_birthdays_month_first_and_from_the_files_other_dates(cli, db_path, tmp_path):
    told = write(tmp_path / "us.csv", "email,birthday\na@x.com,03/04/1990\nb@x.com,12/25/85\n")
    assert cli("import", "customers", str(told), "--date-format", "MM/DD/YYYY").exit_code == 0
    # the sign-up dates prove day-first, so the birthdays are read so too
    shown = write(
        tmp_path / "eu.csv",
        "email,birthday,created at\nc@x.com,05/06/1991,25/12/2024\n",
    )
    assert cli("import", "customers", str(shown)).exit_code == 0
    assert rows(db_path, "SELECT email, birthday FROM customers ORDER BY 1") == [
        ("a@x.com", "1990-03-04"),
        ("b@x.com", "1985-12-25"),
        ("c@x.com", "1991-06-05"),
    ]


def test_a_birthday_that_reads_either_way_is_left_out_and_says_the_fix(cli, db_path, tmp_path):
    source = write(tmp_path / "people.csv", "email,birthday\na@x.com,03.04.1985\n")
    result = cli("import", "customers", str(source))
    assert result.exit_code == 3
    assert notes(tmp_path / "people.csv.warnings.csv") == [
        "birthday: birthday '03.04.1985' can be read day-first or month-first; pass "
        "--date-format DD/MM/YYYY or --date-format MM/DD/YYYY (imported without it)"
    ]
    assert rows(db_path, "SELECT email, birthday FROM customers") == [("a@x.com", None)]
    again = cli("import", "customers", str(source), "--date-format", "DD/MM/YYYY")
    assert again.exit_code == 0
    assert rows(db_path, "SELECT birthday FROM customers") == [("1985-04-03",)]
