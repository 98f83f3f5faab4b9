"""Tolerant reading of ActivityStreams values: single or list, IRI or embedded object."""

from __future__ import annotations

from federation.jsonld import as_list, first_id, id_of, ids_of


def test_as_list_accepts_every_shape() -> None:
    assert as_list(None) == []
    assert as_list("https://b.test/a") == ["https://b.test/a"]
    assert as_list(["x", "y"]) == ["x", "y"]
    assert as_list({"id": "x"}) == [{"id": "x"}]


def test_id_of_reads_iri_or_embedded_object() -> None:
    assert id_of("https://b.test/a") == "https://b.test/a"
    assert id_of({"id": "https://b.test/a", "type": "Group"}) == "https://b.test/a"
    assert id_of({"@id": "https://b.test/a"}) == "https://b.test/a"
    assert id_of({"type": "Note"}) is None
    assert id_of({"id": 7}) is None
    assert id_of("") is None
    assert id_of(12) is None


def test_first_id_skips_values_without_id() -> None:
    assert first_id(None) is None
    assert first_id([{"type": "Link"}, {"id": "https://b.test/x"}, "https://b.test/y"]) == "https://b.test/x"
    assert first_id("https://b.test/z") == "https://b.test/z"
    assert ids_of(["https://b.test/a", {"id": "https://b.test/b"}, 3]) == ["https://b.test/a", "https://b.test/b"]
