"""`costory-control-plane mcp` as an MCP client starts it (a subprocess over stdin/stdout, the tenant token in
COSTORY_TOKEN), driven by the SDK's stdio client; a missing, wrong or revoked token stops it at once with one
line on stderr that never repeats the token, and nothing on stdout (the protocol's channel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from control_plane.tenants.service import revoke_token
from tests.control_plane.mcp_server.conftest import answer, tool_annotations
from tests.control_plane.mcp_server.test_mcp_tools import READ_ONLY_TOOLS, WRITING_TOOLS

ROOT = Path(__file__).resolve().parents[3]
COMMAND = str(Path(sys.executable).parent / "costory-control-plane")


def environment(settings, token: str | None) -> dict[str, str]:
    env = {
        "PYTHONPATH": str(ROOT),  # the code under test, wherever the package was installed from
        "COSTORY_DATABASE_URL": settings.database_url,
        "COSTORY_DATA_DIR": str(settings.data_dir),
    }
    if token is not None:
        env["COSTORY_TOKEN"] = token
    return env


def over_stdio(settings, token: str, body) -> Any:
    parameters = StdioServerParameters(command=COMMAND, args=["mcp"], env=environment(settings, token), cwd=ROOT)

    async def main() -> Any:
        async with stdio_client(parameters) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)

    return anyio.run(main)


def test_the_stdio_server_lists_the_tools_and_answers(settings, world):
    async def body(session: ClientSession):
        arguments = {"dimension_id": world.dimension_a}
        return await tool_annotations(session), await session.call_tool("list_dimension_values", arguments)

    tools, values = over_stdio(settings, world.token_a, body)
    assert tools == {**{name: True for name in READ_ONLY_TOOLS}, **{name: False for name in WRITING_TOOLS}}
    assert [(v["value"], v["cost"]) for v in answer(values)["values"]] == [
        ("Team_A", "860.01"),
        ("Team_B", "298.99"),
        ("Unallocated", "12.00"),
    ]


def run_mcp(settings, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment(settings, token)}
    if token is None:
        env.pop("COSTORY_TOKEN", None)  # one the test runner may have
    return subprocess.run(
        [COMMAND, "mcp"], env=env, cwd=ROOT, input="", capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (
            None,
            "error: set COSTORY_TOKEN to the tenant's API token (`costory-control-plane tenants create` prints it); "
            "the token is never taken on the command line\n",
        ),
        ("cst_not-a-token", "error: invalid or missing API token\n"),
    ],
    ids=["missing", "wrong"],
)
def test_without_a_valid_token_it_stops_at_once(settings, world, token, message):
    finished = run_mcp(settings, token)
    assert (finished.returncode, finished.stdout, finished.stderr) == (1, "", message)


def test_a_revoked_token_stops_it_without_repeating_the_token(settings, world, services):
    with services.sessions.begin() as session:
        revoke_token(session, "Tenant A")
    finished = run_mcp(settings, world.token_a)
    assert (finished.returncode, finished.stdout) == (1, "")
    assert finished.stderr.startswith("error: this API token was revoked on ")
    assert world.token_a not in finished.stderr
