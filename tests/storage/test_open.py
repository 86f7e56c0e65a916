"""Database URLs: backend choice and what logs may show."""

import pytest

from storage.open import open_store, redact, sqlite_path
from storage.sqlite.store import SQLiteStore


def test_logged_database_urls_hide_passwords() -> None:
    assert redact("mongodb://user:s3cret@db.example:27017/x?replicaSet=rs0") == (
        "mongodb://user:***@db.example:27017/x?replicaSet=rs0"
    )
    assert redact("sqlite:///./data/lensgraph.db") == "sqlite:///./data/lensgraph.db"


def test_backend_is_chosen_by_scheme(tmp_path) -> None:
    assert isinstance(open_store(f"sqlite:///{tmp_path}/x.db"), SQLiteStore)
    assert str(sqlite_path("sqlite:///./data/x.db")) == "data/x.db"
    with pytest.raises(ValueError, match="postgres"):
        open_store("postgres://localhost/x")
