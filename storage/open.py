"""Pick a backend from a database URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse, urlsplit, urlunsplit

from storage.contract import Store


class UnsupportedDatabase(ValueError):
    """The URL names no backend LensGraph has."""


def sqlite_path(url: str) -> Path:
    parsed = urlparse(url)
    # sqlite:///./data/x.db -> ./data/x.db ; sqlite:////abs/x.db -> /abs/x.db
    raw = url[len("sqlite://") :]
    if raw.startswith("/"):
        raw = raw[1:]
    if not raw:
        raise UnsupportedDatabase(f"no file path in database URL {parsed.scheme}://")
    return Path(raw)


def redact(url: str) -> str:
    """The URL as logs may show it: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(
    url: str,
    *,
    sqlite_busy_timeout_ms: int | None = None,
    sqlite_max_bytes: int = 0,
    sqlite_write_nice: int | None = None,
) -> Store:
    """The store the URL names; the sqlite_ options apply to SQLite only (None: SQLite's default)."""
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from storage.sqlite.database import DatabaseOptions
        from storage.sqlite.store import SQLiteStore

        options: DatabaseOptions = {"max_bytes": sqlite_max_bytes}
        if sqlite_busy_timeout_ms is not None:
            options["busy_timeout_ms"] = sqlite_busy_timeout_ms
        if sqlite_write_nice is not None:
            options["write_nice"] = sqlite_write_nice
        return SQLiteStore(sqlite_path(url), **options)
    if scheme in ("mongodb", "mongodb+srv"):
        from storage.mongo.store import MongoStore

        return MongoStore(url)
    raise UnsupportedDatabase(
        f"unsupported database URL {redact(url)!r}: use sqlite:///path/to/file.db or mongodb://host/db"
    )
