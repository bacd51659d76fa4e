"""The warm worker's tamper check (graders/sandbox/integrity.py) on a module of our own.

The module is registered under a watched name (``constructs.<...>``), so the snapshot treats it
like one of aws-cdk-lib's: its classes go into the class index that is checked in a few passes,
and only a change sends the compare down the class-by-class walk that names it."""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Iterator

import pytest

from iacgrade.graders.sandbox import integrity

_NAME = "constructs._iacgrade_integrity_probe"


def _module() -> types.ModuleType:
    mod = types.ModuleType(_NAME)
    source = """
class Bucket:
    versioned = False

    def __init__(self, name):
        self.name = name

    def grant_read(self, who):
        return who


class Table:
    pass


def _last(self):
    return 1


Table.last = _last  # set after the class is made: the last key of its dict
"""
    exec(compile(source, f"<{_NAME}>", "exec"), mod.__dict__)
    return mod


@pytest.fixture
def probe() -> Iterator[types.ModuleType]:
    mod = _module()
    sys.modules[_NAME] = mod
    try:
        yield mod
    finally:
        sys.modules.pop(_NAME, None)


def _rename_last(mod: types.ModuleType) -> None:
    mod.Table.first = mod.Table.__dict__["last"]
    del mod.Table.last


def _changes(snap: integrity.Snapshot) -> list[str]:
    return [c for c in snap.compare() if _NAME in c]


def test_a_clean_worker_compares_clean_and_its_classes_are_indexed(probe: types.ModuleType) -> None:
    snap = integrity.Snapshot()
    assert _NAME in snap._indexed
    assert not snap._index.changed()
    assert _changes(snap) == []


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda m: setattr(m.Bucket, "grant_read", lambda self, who: None), id="method replaced"),
        pytest.param(lambda m: setattr(m.Bucket, "versioned", True), id="class attribute replaced"),
        pytest.param(lambda m: setattr(m.Bucket, "extra", 1), id="attribute added"),
        pytest.param(lambda m: delattr(m.Bucket, "grant_read"), id="attribute deleted"),
        # The last attribute renamed, its value kept: sizes and values line up, only keys differ.
        pytest.param(_rename_last, id="last attribute renamed"),
        # Under the mappingproxy: the class's own dict changed with no type.__setattr__.
        pytest.param(
            lambda m: gc.get_referents(m.Bucket.__dict__)[0].__setitem__("__init__", lambda self, name: None),
            id="dict written directly",
        ),
    ],
)
def test_every_change_to_a_watched_class_is_named(probe: types.ModuleType, tamper) -> None:  # type: ignore[no-untyped-def]
    snap = integrity.Snapshot()
    tamper(probe)
    assert snap._index.changed()
    found = _changes(snap)
    assert found and all("modified" in c for c in found), found


def test_an_impostor_that_claims_equality_is_still_found(probe: types.ModuleType) -> None:
    class Always:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    snap = integrity.Snapshot()
    probe.Bucket.grant_read = Always()
    assert any("Bucket modified" in c for c in _changes(snap))


def test_annotations_are_made_before_the_baseline(probe: types.ModuleType) -> None:
    """Python adds __annotations__ to a class the first time anything asks for it (jsii does, for
    the classes a job uses): the snapshot makes it first, so that is no change after a job."""
    assert "__annotations__" not in vars(probe.Bucket)
    snap = integrity.Snapshot()
    assert vars(probe.Bucket)["__annotations__"] == {}
    probe.Bucket.__annotations__  # noqa: B018
    assert not snap._index.changed()
    assert _changes(snap) == []
    probe.Bucket.__annotations__ = {"x": int}  # replacing it is a change like any other
    assert _changes(snap)


def test_an_attribute_put_back_as_it_was_is_no_change_and_keeps_the_index_fast(
    probe: types.ModuleType,
) -> None:
    snap = integrity.Snapshot()
    versioned = vars(probe.Bucket)["versioned"]
    del probe.Bucket.versioned
    probe.Bucket.versioned = versioned  # the same object, now last in the class's dict
    assert snap._index.changed()
    assert _changes(snap) == []
    assert not snap._index.changed()  # the walk took the new order as the baseline


def test_a_module_imported_later_joins_the_index(probe: types.ModuleType) -> None:
    snap = integrity.Snapshot()
    later = types.ModuleType(_NAME + "_later")
    exec("class Late:\n    def go(self):\n        return 1\n", later.__dict__)
    sys.modules[later.__name__] = later
    try:
        snap.refresh()
        assert later.__name__ in snap._indexed
        later.Late.go = lambda self: 2
        assert any("Late modified" in c for c in snap.compare())
    finally:
        sys.modules.pop(later.__name__, None)
