"""The experiments contract: the same answers on every backend (tests/storage/conftest.py's `store`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.contract import Conflict
from storage.models import Experiment, ExperimentStatus, Project, Variant

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
P, OTHER = "proj", "other"


def experiment(id_: str, name: str | None = None, project: str = P, minute: int = 0, **kw) -> Experiment:
    return Experiment(
        project_id=project, id=id_, name=name or f"exp-{id_}", goal_event=kw.pop("goal_event", "signup"),
        variants=kw.pop("variants", [Variant(key="control", weight=50), Variant(key="treatment", weight=50)]),
        created_at=T0 + timedelta(minutes=minute), updated_at=T0 + timedelta(minutes=minute), **kw,
    )


async def test_create_read_list_update_delete(store) -> None:
    first = await store.experiments.create_experiment(experiment("e1", "checkout-button", minute=1))
    assert first.name == "checkout-button"
    await store.experiments.create_experiment(experiment("e2", minute=3))
    await store.experiments.create_experiment(experiment("e3", minute=2))
    assert await store.experiments.experiment_by_id(P, "e1") == first
    assert await store.experiments.experiment_by_name(P, "checkout-button") == first
    assert await store.experiments.experiment_by_id(P, "missing") is None
    assert await store.experiments.experiment_by_name(P, "missing") is None
    assert [e.id for e in await store.experiments.list_experiments(P)] == ["e2", "e3", "e1"]  # newest first

    changed = first.model_copy(update={
        "name": "checkout-button-v2", "description": "bigger", "status": ExperimentStatus.PAUSED,
        "updated_at": T0 + timedelta(minutes=9),
    })
    assert await store.experiments.update_experiment(changed) == changed
    assert await store.experiments.experiment_by_id(P, "e1") == changed
    assert await store.experiments.experiment_by_name(P, "checkout-button") is None  # the old name is free
    assert await store.experiments.experiment_by_name(P, "checkout-button-v2") == changed
    assert [e.id for e in await store.experiments.list_experiments(P)] == ["e2", "e3", "e1"]  # by creation

    assert await store.experiments.delete_experiment(P, "e1") is True
    assert await store.experiments.delete_experiment(P, "e1") is False
    assert await store.experiments.experiment_by_id(P, "e1") is None
    assert [e.id for e in await store.experiments.list_experiments(P)] == ["e2", "e3"]
    await store.experiments.create_experiment(experiment("e4", "checkout-button-v2"))  # its name is free again


async def test_experiments_created_in_one_millisecond_list_in_one_order(store) -> None:
    for id_ in ("b", "c", "a"):
        await store.experiments.create_experiment(experiment(id_))
    assert [e.id for e in await store.experiments.list_experiments(P)] == ["c", "b", "a"]


async def test_a_name_the_project_holds_is_a_conflict_on_create_and_update(store) -> None:
    await store.experiments.create_experiment(experiment("e1", "taken"))
    other = await store.experiments.create_experiment(experiment("e2", "free"))
    with pytest.raises(Conflict):
        await store.experiments.create_experiment(experiment("e3", "taken"))
    with pytest.raises(Conflict):
        await store.experiments.update_experiment(other.model_copy(update={"name": "taken"}))
    assert await store.experiments.experiment_by_id(P, "e2") == other  # unchanged
    assert await store.experiments.experiment_by_id(P, "e3") is None
    assert [e.id for e in await store.experiments.list_experiments(P)] == ["e2", "e1"]
    # Keeping its own name is no conflict.
    renamed = other.model_copy(update={"goal_event": "purchase"})
    assert await store.experiments.update_experiment(renamed) == renamed
    assert await store.experiments.experiment_by_id(P, "e2") == renamed


async def test_projects_are_isolated(store) -> None:
    mine = await store.experiments.create_experiment(experiment("e1", "shared-name"))
    # Another project may use the same name, and the same id.
    theirs = await store.experiments.create_experiment(experiment("e1", "shared-name", project=OTHER, minute=5,
                                                                  goal_event="purchase"))
    await store.experiments.create_experiment(experiment("e2", "only-theirs", project=OTHER))
    assert await store.experiments.experiment_by_id(P, "e1") == mine
    assert await store.experiments.experiment_by_id(OTHER, "e1") == theirs
    assert await store.experiments.experiment_by_id(P, "e2") is None
    assert await store.experiments.experiment_by_name(P, "only-theirs") is None
    assert [e.id for e in await store.experiments.list_experiments(P)] == ["e1"]
    assert [e.id for e in await store.experiments.list_experiments(OTHER)] == ["e1", "e2"]
    await store.experiments.update_experiment(mine.model_copy(update={"name": "only-theirs"}))  # no conflict
    assert await store.experiments.delete_experiment(P, "e2") is False
    assert await store.experiments.delete_experiment(P, "e1") is True
    assert await store.experiments.experiment_by_id(OTHER, "e1") == theirs


async def test_variants_status_and_optional_fields_round_trip_exactly(store) -> None:
    variants = [Variant(key="control", weight=34), Variant(key="b-ünïcode", weight=33), Variant(key="c", weight=33)]
    full = experiment(
        "e1", "héllo experiment", variants=variants, description="three-way split", status=ExperimentStatus.COMPLETED,
        winner="b-ünïcode",
    ).model_copy(update={
        "created_at": T0 + timedelta(milliseconds=123), "updated_at": T0 + timedelta(days=3, milliseconds=7),
    })
    bare = Experiment(project_id=P, id="e2", name="bare", goal_event="click", created_at=T0, updated_at=T0)
    await store.experiments.create_experiment(full)
    await store.experiments.create_experiment(bare)
    for stored, wanted in ((await store.experiments.experiment_by_id(P, "e1"), full),
                           (await store.experiments.experiment_by_name(P, "bare"), bare)):
        assert stored == wanted
        assert stored is not None and stored.model_dump() == wanted.model_dump()
        assert type(stored.status) is ExperimentStatus and all(type(v) is Variant for v in stored.variants)
    assert await store.experiments.list_experiments(P) == [full, bare]
    for status in ExperimentStatus:
        updated = full.model_copy(update={"status": status, "winner": None, "variants": variants[:1]})
        await store.experiments.update_experiment(updated)
        assert await store.experiments.experiment_by_id(P, "e1") == updated


async def test_deleting_a_project_deletes_its_experiments(store) -> None:
    for id_ in (P, OTHER):
        await store.projects.create_project(Project(project_id=id_, id=id_, name=f"name-{id_}", created_at=T0,
                                                    tracker_token=f"lgt_{id_}"))
    await store.experiments.create_experiment(experiment("e1", "x"))
    await store.experiments.create_experiment(experiment("e2"))
    kept = await store.experiments.create_experiment(experiment("e1", "x", project=OTHER))
    assert await store.projects.delete_project(P) is True
    assert await store.experiments.list_experiments(P) == []
    assert await store.experiments.experiment_by_id(P, "e1") is None
    assert await store.experiments.experiment_by_name(P, "x") is None
    assert await store.experiments.list_experiments(OTHER) == [kept]
    # The project's names are free again should its id be used once more.
    await store.experiments.create_experiment(experiment("e1", "x"))
