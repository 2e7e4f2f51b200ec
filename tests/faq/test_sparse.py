"""NumPy postings."""

from __future__ import annotations

from app.faq.sparse import Postings


def test_dot_sums_shared_features() -> None:
    postings = Postings.build([{"a": 1.0, "b": 2.0}, {"b": 1.0}, {}])
    scores = postings.dot({"b": 0.5, "z": 9.0})
    assert scores.tolist() == [1.0, 0.5, 0.0]
    assert "a" in postings
    assert "z" not in postings
