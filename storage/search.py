"""What full-text search over payloads matches, the same on every backend.

A term matches an event when it is a case-insensitive substring of the
payload's values (strings and numbers, at any depth). Keys are left out so
that searching "toolName" does not match every tool call.
"""

from __future__ import annotations

from typing import Any


def search_text(payload: Any) -> str:
    parts: list[str] = []
    _walk(payload, parts)
    return "\n".join(parts).lower()


def _walk(value: Any, parts: list[str]) -> None:
    """The values' text, depth first. Exact types first (JSON documents hold only these), isinstance after."""
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list:
        items = value
    elif kind is str:
        parts.append(value)
        return
    elif kind is bool or value is None:
        return
    elif kind is int or kind is float:
        parts.append(str(value))
        return
    elif isinstance(value, dict):
        items = value.values()
    elif isinstance(value, list):
        items = value
    elif isinstance(value, str):
        parts.append(value)
        return
    elif isinstance(value, bool):
        return
    else:
        parts.append(str(value))
        return
    for item in items:
        kind = type(item)
        if kind is str:
            parts.append(item)
        elif kind is dict or kind is list or not (kind is bool or item is None):
            _walk(item, parts)


def normalize_term(term: str) -> str:
    return term.strip().lower()
