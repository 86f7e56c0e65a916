"""Domain errors that every API surface renders in its own shape."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    path: str  # e.g. events[3].payload.toolName
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(Exception):
    """Bad input, with the path of every offending field."""

    def __init__(self, problems: Sequence[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class NotFound(Exception):
    def __init__(self, what: str, ident: str) -> None:
        self.what, self.ident = what, ident
        super().__init__(f"{what} {ident!r} not found")


def join_path(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def from_pydantic(exc: object, prefix: Sequence[str | int] = ()) -> InputError:
    """A pydantic ValidationError as an InputError naming each field path."""
    problems = []
    for err in exc.errors(include_url=False):  # type: ignore[attr-defined]
        loc = [*prefix, *err["loc"]]
        problems.append(Problem(join_path(loc), err["msg"]))
    return InputError(problems)
