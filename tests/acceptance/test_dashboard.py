"""costory_dashboard driven through the real terraform CLI: widgets written as blocks and as a list, a second plan
empty, an update in place, import by id, a bad widget refused naming its attribute, destroy."""

from __future__ import annotations

import sqlite3

from tests.acceptance.test_metrics_datasource import PROVIDER, resource_actions

BLOCKS = "costory_dashboard.blocks"
LISTED = "costory_dashboard.listed"
TEAM = "costory_virtual_dimension.team"

DIMENSION = """
resource "costory_virtual_dimension" "team" {
  name  = "team"
  rules = [{ name = "everyone", value = "all" }]
}
"""


def config(listed_title: str = "Total", listed_filters: str = "") -> str:
    return (
        PROVIDER
        + DIMENSION
        + f"""
resource "costory_dashboard" "blocks" {{
  name = "AI spend"

  widgets {{
    title = "By team and model"
    kind  = "STACKED_BAR"
    query = {{
      group_by    = ["dimension:${{costory_virtual_dimension.team.id}}", "x_Model"]
      filters     = [{{ field = "Provider", operator = "IN", values = ["Anthropic", "OpenAI"] }}]
      granularity = "WEEK"
      preset      = "LAST_90_DAYS"
      top_n       = 5
    }}
  }}

  widgets {{
    title = "Month to date"
    kind  = "NUMBER"
    query = {{
      preset  = "MONTH_TO_DATE"
      compare = true
    }}
  }}
}}

resource "costory_dashboard" "listed" {{
  name        = "Listed"
  description = "Widgets as a list"
  widgets = [
    {{
      title = "{listed_title}"
      kind  = "TABLE"
      query = {{
        start_date = "2026-01-01"
        end_date   = "2026-03-31"
        metric     = "EFFECTIVE"{listed_filters}
      }}
    }},
    {{
      title = "By region"
      kind  = "PIE"
      query = {{ group_by = ["RegionId"], granularity = "TOTAL", preset = "LAST_30_DAYS", with_quantity = true }}
    }},
  ]
}}
"""
    )


def rows(control_plane, table: str) -> int:
    path = control_plane.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def query(**given) -> dict:
    """A widget's query as the state holds it: every attribute, null where the configuration leaves it out."""
    attributes = (
        "group_by",
        "filters",
        "granularity",
        "metric",
        "start_date",
        "end_date",
        "preset",
        "compare",
        "top_n",
        "with_quantity",
    )
    return {name: given.get(name) for name in attributes}


def reimport(terraform, address: str, import_id: str) -> None:
    before = terraform.resources()[address]
    terraform.run("state", "rm", address)
    terraform.run("import", address, import_id)
    assert terraform.resources()[address] == before
    assert terraform.plan_exit_code() == 0


def test_lifecycle(terraform, control_plane):
    # 1. create both (widgets as blocks and as a list); a second plan is empty
    terraform.write(config())
    terraform.init()
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    state = terraform.resources()
    team_id = state[TEAM]["id"]
    blocks = state[BLOCKS]
    assert blocks["id"].startswith("dash_")
    assert (blocks["name"], blocks["description"]) == ("AI spend", "")
    assert blocks["created_at"] == blocks["updated_at"] and blocks["created_at"].endswith("Z")
    assert blocks["widgets"] == [
        {
            "title": "By team and model",
            "kind": "STACKED_BAR",
            "query": query(
                group_by=[f"dimension:{team_id}", "x_Model"],
                filters=[{"field": "Provider", "operator": "IN", "values": ["Anthropic", "OpenAI"]}],
                granularity="WEEK",
                preset="LAST_90_DAYS",
                top_n=5,
            ),
        },
        {"title": "Month to date", "kind": "NUMBER", "query": query(preset="MONTH_TO_DATE", compare=True)},
    ]
    listed = state[LISTED]
    assert (listed["name"], listed["description"]) == ("Listed", "Widgets as a list")
    assert listed["widgets"] == [
        {
            "title": "Total",
            "kind": "TABLE",
            "query": query(start_date="2026-01-01", end_date="2026-03-31", metric="EFFECTIVE"),
        },
        {
            "title": "By region",
            "kind": "PIE",
            "query": query(group_by=["RegionId"], granularity="TOTAL", preset="LAST_30_DAYS", with_quantity=True),
        },
    ]

    # 2. a widget's title and query change in place; the other dashboard is untouched
    terraform.write(
        config(
            "Total, prod only", '\n        filters    = [{ field = "tag:env", operator = "EQUALS", values = ["prod"] }]'
        )
    )
    assert resource_actions(terraform.plan_json()) == {TEAM: ["no-op"], BLOCKS: ["no-op"], LISTED: ["update"]}
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    updated = terraform.resources()[LISTED]
    assert (updated["id"], updated["created_at"]) == (listed["id"], listed["created_at"])
    assert updated["updated_at"] > listed["updated_at"]
    assert updated["widgets"][0] == {
        "title": "Total, prod only",
        "kind": "TABLE",
        "query": query(
            start_date="2026-01-01",
            end_date="2026-03-31",
            metric="EFFECTIVE",
            filters=[{"field": "tag:env", "operator": "EQUALS", "values": ["prod"]}],
        ),
    }

    # 3. import by id: the state comes back exactly and the next plan is empty
    reimport(terraform, BLOCKS, blocks["id"])
    reimport(terraform, LISTED, listed["id"])

    # 4. destroy leaves no rows behind
    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
    assert rows(control_plane, "dashboards") == 0


def test_a_bad_widget_is_refused_naming_its_attribute(terraform):
    bad = """
resource "costory_dashboard" "bad_operator" {
  name = "Bad operator"
  widgets {
    title = "x"
    kind  = "TABLE"
    query = { preset = "LAST_7_DAYS", filters = [{ field = "Provider", operator = "LIKE", values = ["AWS"] }] }
  }
}
"""
    terraform.write(PROVIDER + bad)
    terraform.init()
    result = terraform.run("plan", "-input=false", check=False)
    assert result.returncode == 1
    assert "`operator` is `LIKE`; it must be one of `IN`, `NOT_IN`, `EQUALS`, `PREFIX` (case-sensitive)." in " ".join(
        result.stderr.split()
    )

    unknown = """
resource "costory_dashboard" "unknown_dimension" {
  name = "Unknown dimension"
  widgets = [
    { title = "ok", kind = "LINE", query = { preset = "LAST_7_DAYS" } },
    { title = "x", kind = "LINE", query = { preset = "LAST_7_DAYS", group_by = ["x_Model", "dimension:dim_gone"] } },
  ]
}
"""
    terraform.write(PROVIDER + unknown)
    result = terraform.run("apply", "-auto-approve", "-input=false", check=False)
    assert result.returncode == 1
    assert (
        "At `widgets[1].query.group_by[1]`: `dimension:dim_gone` names no virtual dimension of this tenant; use "
        "`dimension:<id>` with the id of one (the `id` of a `costory_virtual_dimension`, or GET /v1/dimensions)."
    ) in " ".join(result.stderr.split())
    assert terraform.resources() == {}
