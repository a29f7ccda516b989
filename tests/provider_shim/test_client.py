"""The provider's control-plane client against a real gRPC server on loopback: a busy control plane
(RESOURCE_EXHAUSTED with a RetryInfo delay, as its admission limit answers Terraform's parallel creates) is
waited for; anything else fails at once with its diagnostic."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from costory_proto.costory.v1 import team_pb2
from provider_shim import client
from provider_shim.client import ControlPlane, ControlPlaneError, Target


def busy(retry_seconds: int, code: int = code_pb2.RESOURCE_EXHAUSTED) -> status_pb2.Status:
    status = status_pb2.Status(code=code, message="This API token already has 4 requests in progress")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_seconds)))
    return status


@pytest.fixture
def control_plane(request):
    answers = list(request.param)
    calls = []

    def get_team(message, context):
        calls.append(message.id)
        answer = answers.pop(0) if answers else None
        if answer is None:
            return team_pb2.Team(id=message.id, name="Payments")
        context.abort_with_status(rpc_status.to_status(answer))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "costory.v1.TeamService",
                {
                    "GetTeam": grpc.unary_unary_rpc_method_handler(
                        get_team,
                        request_deserializer=team_pb2.GetTeamRequest.FromString,
                        response_serializer=team_pb2.Team.SerializeToString,
                    )
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    plane = ControlPlane(Target(f"127.0.0.1:{port}", tls=False), "cst_test")
    yield plane, calls
    plane.close()
    server.stop(None)


@pytest.mark.parametrize("control_plane", [[busy(1), busy(1, code_pb2.UNAVAILABLE)]], indirect=True)
def test_a_busy_control_plane_is_waited_for(control_plane, monkeypatch):
    plane, calls = control_plane
    slept = []
    monkeypatch.setattr(client.time, "sleep", slept.append)
    team = plane.call("costory.v1.TeamService", "GetTeam", id="team_1")
    assert (team.name, calls, slept) == ("Payments", ["team_1"] * 3, [1.0, 1.0])


@pytest.mark.parametrize("control_plane", [[busy(100)] * 30], indirect=True)
def test_waiting_stops_after_the_budget(control_plane, monkeypatch):
    plane, calls = control_plane
    slept = []
    monkeypatch.setattr(client.time, "sleep", slept.append)
    with pytest.raises(ControlPlaneError) as failed:
        plane.call("costory.v1.TeamService", "GetTeam", id="team_1")
    assert failed.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    # 5 s at most each time (the delay asked is capped), 120 s in all.
    assert (slept, len(calls)) == ([5.0] * 24, 25)


@pytest.mark.parametrize(
    "control_plane", [[status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message="too big")]], indirect=True
)
def test_without_a_retry_delay_the_error_is_shown_at_once(control_plane, monkeypatch):
    plane, calls = control_plane
    monkeypatch.setattr(client.time, "sleep", lambda seconds: pytest.fail("no wait expected"))
    with pytest.raises(ControlPlaneError) as failed:
        plane.call("costory.v1.TeamService", "GetTeam", id="team_1")
    assert (failed.value.code, calls) == (grpc.StatusCode.RESOURCE_EXHAUSTED, ["team_1"])
    assert [d.detail for d in failed.value.diagnostics] == ["too big"]
