"""What full-text search over payloads matches, the same on every backend.

A term matches an event when it is a case-insensitive substring of the
payload's values (strings and numbers, at any depth). Keys are left out so
that searching "toolName" does not match every tool call.
"""

from __future__ import annotations

from typing import Any


def search_text(payload: Any) -> str:
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            parts.append(value)
        elif isinstance(value, bool) or value is None:
            return
        else:
            parts.append(str(value))

    walk(payload)
    return "\n".join(parts).lower()


def normalize_term(term: str) -> str:
    return term.strip().lower()
