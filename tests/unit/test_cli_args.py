"""The `tocsin` command line's arguments: order, mistakes said clearly, help for everything."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from tocsin.cli import build_parser, parse_args


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """What `tocsin argv` says on stderr when it refuses its arguments (status 2)."""
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    err: str = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "argv",
    [
        # The README's order: options after the event, then the fields.
        ["email-received", "--tenant", "firm-a", "--user", "alice", "subject=Hi", "from=G <g@t>"],
        ["email-received", "subject=Hi", "--tenant", "firm-a", "from=G <g@t>", "--user", "alice"],
        ["--tenant", "firm-a", "email-received", "--user", "alice", "subject=Hi", "from=G <g@t>"],
        ["email-received", "subject=Hi", "from=G <g@t>", "--tenant", "firm-a", "--user", "alice"],
    ],
)
def test_send_takes_options_and_fields_in_any_order(argv: list[str]) -> None:
    args = parse_args(["send", *argv])
    assert (args.kind, args.tenant, args.user) == ("email-received", "firm-a", "alice")
    assert args.fields == {"subject": "Hi", "from": "G <g@t>"}


def test_send_fields_keep_json_types() -> None:
    args = parse_args(["send", "deadline-alert", "--tenant", "t", "remainingDays=2", "urgent=true"])
    assert args.fields == {"remainingDays": 2, "urgent": True}


@pytest.mark.parametrize(
    ("field", "said"),
    [
        ("subject", "malformed field 'subject'"),
        ("=Hi", "malformed field '=Hi'"),
        ("sub ject=Hi", "malformed field 'sub ject=Hi'"),
        ("event=x", "field 'event' is the first argument"),
    ],
)
def test_a_malformed_field_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], field: str, said: str
) -> None:
    err = refusal(capsys, "send", "email-received", "--tenant", "t", "subject=Hi", field)
    assert said in err and "usage: tocsin send" in err


def test_a_field_given_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = refusal(capsys, "send", "email-received", "subject=a", "--tenant", "t", "subject=b")
    assert "field 'subject' is given twice" in err


def test_an_unknown_option_of_send_is_not_taken_for_a_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = refusal(capsys, "send", "email-received", "--tenant", "t", "--tenat=x", "subject=a")
    assert "unrecognized arguments: --tenat=x" in err


def test_other_commands_still_refuse_extra_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert "unrecognized arguments: subject=a" in refusal(capsys, "keys", "list", "subject=a")


@pytest.mark.parametrize("now", ["tomorrow", "2026-13-01T00:00+02:00", "2026-10-25T00:30"])
def test_deadlines_check_refuses_a_bad_now_naming_the_format(
    capsys: pytest.CaptureFixture[str], now: str
) -> None:
    err = refusal(capsys, "deadlines", "check", "--now", now)
    assert "argument --now" in err and "2026-10-25T00:30+02:00" in err


def test_deadlines_check_takes_a_time_with_offset() -> None:
    now = parse_args(["deadlines", "check", "--now", "2026-10-25T00:30+02:00"]).now
    assert now == datetime(2026, 10, 25, 0, 30).replace(tzinfo=now.tzinfo)
    assert now.utcoffset() == timedelta(hours=2)


def test_deadlines_list_refuses_a_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    err = refusal(capsys, "deadlines", "list", "--from", "tomorrow")
    assert "argument --from" in err and "YYYY-MM-DD" in err
    assert parse_args(["deadlines", "list", "--to", "2026-03-10"]).due_to == date(2026, 3, 10)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--user", "alice", "--tenant", ""], "argument --tenant: must not be empty"),
        (["--user", " ", "--tenant", "firm-a"], "argument --user: must not be empty"),
        (["--user", "alice", "--tenant", "firm-a", "--ttl", "-5"], "argument --ttl: must be more"),
        (["--user", "alice", "--tenant", "firm-a", "--ttl", "0"], "argument --ttl: must be more"),
        (
            ["--user", "alice", "--tenant", "firm-a", "--ttl", "1h"],
            "argument --ttl: expected whole",
        ),
    ],
)
def test_token_refuses_what_would_make_an_unusable_token(
    capsys: pytest.CaptureFixture[str], options: list[str], said: str
) -> None:
    assert said in refusal(capsys, "token", *options)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def test_every_argument_of_every_command_has_help() -> None:
    missing = [
        f"{prog} {action.option_strings or action.dest}"
        for prog, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_help_shows_no_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for prog, parser in _parsers(build_parser()):
        assert "``" not in parser.format_help(), prog


def test_top_level_help_lists_every_command_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    parser = build_parser()
    text = parser.format_help()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = {choice.dest: choice.help for choice in commands._choices_actions}
    expected = {"serve", "migrate", "keys", "send", "deadlines", "token"}
    assert expected | {"checkconfig", "checktoken", "demo"} <= set(listed)
    for name, help_text in listed.items():
        assert help_text, name
        line = next(line for line in text.splitlines() if line.split()[:1] == [name])
        assert line.rstrip().endswith(help_text), line
