"""schema.graphql is generated from the code: regenerate with `make schema`."""

from pathlib import Path

from graph.schema.build import export_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == export_sdl(), "schema.graphql is stale: run `make schema`"

