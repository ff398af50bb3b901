from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from tocsin.models import iso_timestamp, notification_adapter


def test_iso_timestamp_matches_javascript() -> None:
    moment = datetime(2026, 1, 7, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert iso_timestamp(moment) == "2026-01-07T09:00:00.123Z"


def test_numeric_ids_become_strings_and_from_keeps_its_name() -> None:
    model = notification_adapter.validate_python(
        {
            "event": "email-received",
            "id": 42,
            "subject": "s",
            "from": "a@b.c",
            "userId": 7,
            "tenantId": "t",
            "timestamp": "2026-01-07T10:00:00",
        }
    )
    assert model.id == "42" and model.userId == "7"
    assert model.timestamp == datetime(2026, 1, 7, 10, tzinfo=UTC)
    assert model.wire_fields() == {"subject": "s", "from": "a@b.c", "userId": "7", "tenantId": "t"}


@pytest.mark.parametrize(
    "bad",
    [
        {
            "event": "dossier-updated",
            "dossierNumber": "D",
            "dossierTitle": "T",
            "action": "deleted",
        },
        {
            "event": "deadline-alert",
            "dossierNumber": "D",
            "message": "m",
            "urgency": "critical",
            "deadlineType": "x",
            "remainingDays": "soon",
        },
        {"event": "system-notification", "title": "", "message": "m", "type": "info"},
        {"event": "email-received", "subject": "s", "from": "f", "extra": 1},
        # An identifier of blanks is empty once stripped (it used to pass as "").
        {"event": "email-received", "subject": "s", "from": "f", "userId": "   ", "tenantId": "t"},
        {"event": "email-received", "subject": "s", "from": "f", "id": " ", "tenantId": "t"},
    ],
)
def test_invalid_payloads_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        notification_adapter.validate_python(bad)
