"""Silences for planned work (hotdash_ops.monitor.silences) and their file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotdash_ops.monitor.silences import (
    MAX_MINUTES,
    SilenceBook,
    SilenceStore,
    create_silence,
    expire_silence,
)

T0 = datetime(2025, 10, 14, 17, 0, tzinfo=UTC)


def test_a_silence_covers_its_app_or_every_app_until_it_ends() -> None:
    book, one = create_silence(SilenceBook(), app="hotdash-staging", minutes=60,
                               reason="DB migration", requested_by="bob", now=T0)  # fmt: skip
    book, every = create_silence(book, app="*", minutes=30, reason="Fly maintenance",
                                 requested_by="carol", now=T0)  # fmt: skip
    apps = ["hotdash-staging", "hotdash-production", "supabase"]
    assert book.silenced(apps, T0 + timedelta(minutes=10)) == {
        "hotdash-staging": one.ends_at,  # the later of the two
        "hotdash-production": every.ends_at,
        "supabase": every.ends_at,
    }
    assert book.silenced(apps, T0 + timedelta(minutes=45)) == {"hotdash-staging": one.ends_at}
    assert book.silenced(apps, T0 + timedelta(minutes=60)) == {}
    assert one.describe(ZoneInfo("America/Los_Angeles"), T0).endswith(
        "hotdash-staging until 2025-10-14 11:00 PDT (bob: DB migration)"
    )


def test_expire_ends_it_now_and_refuses_what_is_not_active() -> None:
    book, s = create_silence(SilenceBook(), app="hotdash-staging", minutes=60, reason="x",
                             requested_by="bob", now=T0)  # fmt: skip
    book, ended = expire_silence(book, s.id, by="carol", now=T0 + timedelta(minutes=5))
    assert (ended.expired_by, book.silenced(["hotdash-staging"], T0 + timedelta(minutes=6))) == (
        "carol",
        {},
    )
    with pytest.raises(ValueError, match=f"silence_id: {s.id} has already ended"):
        expire_silence(book, s.id, by="carol", now=T0 + timedelta(minutes=7))
    with pytest.raises(ValueError, match="silence_id: no silence 'sil-nope'"):
        expire_silence(book, "sil-nope", by="carol", now=T0)


def test_duration_is_bounded_and_old_silences_are_dropped() -> None:
    with pytest.raises(ValueError, match="duration_minutes: must be between 1 and"):
        create_silence(SilenceBook(), app="*", minutes=MAX_MINUTES + 1, reason="x",
                       requested_by="bob", now=T0)  # fmt: skip
    book, old = create_silence(SilenceBook(), app="*", minutes=1, reason="x",
                               requested_by="bob", now=T0)  # fmt: skip
    book, new = create_silence(book, app="*", minutes=1, reason="y", requested_by="bob",
                               now=T0 + timedelta(days=8))  # fmt: skip
    assert [s.id for s in book.silences] == [new.id]


def test_store_round_trip(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "silences.json")
    book, _ = create_silence(SilenceBook(), app="*", minutes=5, reason="x", requested_by="b",
                             now=T0)  # fmt: skip
    store.save(book)
    assert SilenceStore(tmp_path / "silences.json").load() == (book, None)
