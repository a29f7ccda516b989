"""Answers from summaries are kept by (summary, query) within a budget of rows: asked again, a query is not
grouped again; a recompute (a new results folder) is a new key; the oldest answers go first."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from control_plane.cost import query as cost_query
from control_plane.cost.model import Query
from control_plane.datastore import DataStore
from control_plane.dimensions import compute


def plan(day: int) -> cost_query._Plan:
    when = date(2026, 3, day)
    return cost_query._Plan(Query(start=when, end=when), when, when, None, ())


def test_kept_within_a_budget_of_rows(tmp_path, monkeypatch):
    grouped: list[tuple[str | None, date]] = []

    def from_summary(_store, results, the_plan):
        grouped.append((results.folder, the_plan.start))
        rows = the_plan.start.day  # day n answers n rows
        return pa.table(
            {
                "prev": [False] * rows,
                "period": [f"p{i}" for i in range(rows)],
                "cents": pa.array([100] * rows, pa.int64()),
                "fraction": [0.0] * rows,
                "quantity": [0.0] * rows,
            }
        )

    monkeypatch.setattr(cost_query, "_from_summary", from_summary)
    answers = cost_query._Answers(max_rows=5)
    store = DataStore.local(tmp_path)
    first, recomputed = compute.ResultKeys("allocations/t/d/a"), compute.ResultKeys("allocations/t/d/b")

    assert answers.get(store, first, plan(2)).total == 200
    assert answers.get(store, first, plan(2)).total == 200  # asked again: held
    assert answers.get(store, recomputed, plan(2)).total == 200  # another folder: grouped again
    assert grouped == [(first.folder, date(2026, 3, 2)), (recomputed.folder, date(2026, 3, 2))]

    assert answers.get(store, first, plan(3)).total == 300  # 2 + 2 + 3 rows > 5: the oldest (first, 2) goes
    answers.get(store, first, plan(2))
    assert grouped[-2:] == [(first.folder, date(2026, 3, 3)), (first.folder, date(2026, 3, 2))]

    assert answers.get(store, first, plan(6)).total == 600  # larger than the budget: answered, never held
    answers.get(store, first, plan(6))
    assert grouped[-2:] == [(first.folder, date(2026, 3, 6))] * 2
