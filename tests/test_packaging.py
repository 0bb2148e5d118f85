"""What the wheels install: the server wheel only the `segflow` namespace; `segflow-client` alone (no server
code importable) calls a running server with its value helpers and reads its rich errors; the server wheel
holds every file of the client's, identical, so it never needs (nor should get) segflow-client beside it. Wheels are built from this checkout with
--no-deps --no-build-isolation (no downloads); about 20 s in all."""

from __future__ import annotations

import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.service.conftest import clock, config, service  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(project: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(project)], check=True, capture_output=True, timeout=180, cwd=ROOT)
    [wheel] = out.glob("*.whl")
    return wheel


def top_level(wheel: Path) -> set[str]:
    return {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in name}


def test_the_server_wheel_installs_only_the_segflow_namespace(tmp_path):
    wheel = build_wheel(ROOT, tmp_path)
    assert top_level(wheel) == {"segflow"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "segflow/server/app.py" in names and "segflow/rules/compile.py" in names
    assert "segflow/v1/decision_service_pb2.py" in names


@pytest.fixture(scope="module")
def client_wheel(tmp_path_factory) -> Path:
    return build_wheel(ROOT / "clients" / "python", tmp_path_factory.mktemp("client-wheel"))


def test_the_client_wheel_holds_the_stubs_and_no_server(client_wheel):
    names = zipfile.ZipFile(client_wheel).namelist()
    assert top_level(client_wheel) == {"segflow"}
    assert "segflow/v1/decision_service_pb2_grpc.py" in names
    assert {"segflow/client/values.py", "segflow/client/py.typed"} <= set(names)
    assert not any(name.startswith(("segflow/server/", "segflow/rules/")) for name in names)


def test_the_server_wheel_holds_the_client_wheels_files_unchanged(client_wheel, tmp_path):
    server, client = zipfile.ZipFile(build_wheel(ROOT, tmp_path)), zipfile.ZipFile(client_wheel)
    shared = [name for name in client.namelist() if ".dist-info/" not in name]
    missing = [name for name in shared if name not in server.namelist()]
    assert missing == []
    assert [name for name in shared if server.read(name) != client.read(name)] == []


def test_segflow_client_alone_calls_a_running_server(client_wheel, service, tmp_path):
    unpacked = tmp_path / "client"
    zipfile.ZipFile(client_wheel).extractall(unpacked)
    # -S: no site module, so neither this environment's .pth files (the editable segflow) nor its packages
    # are seen; only the unpacked client and the third-party packages of this environment's site-packages (a
    # venv's own and, when it includes them, the system's: getsitepackages lists both).
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(unpacked)!r}, *{site.getsitepackages()!r}]
        import importlib.util
        assert importlib.util.find_spec("segflow.server") is None, "server code is importable"
        import grpc
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status
        from segflow.client import attributes, from_attributes
        from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc, session_pb2
        with grpc.insecure_channel("127.0.0.1:{service.port}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            print(stub.StartSession(pb.StartSessionRequest(session_id="from-client")).session.session_id)
            added = session_pb2.Event(name="add_to_cart", parameters=attributes(sku="TV-55", price=650.0))
            stub.PostEvent(pb.PostEventRequest(session_id="from-client", event=added))
            session = stub.GetSession(pb.GetSessionRequest(session_id="from-client")).session
            print(from_attributes(session.attributes)["cart_total"])
            try:
                stub.GetSession(pb.GetSessionRequest(session_id="nobody"))
            except grpc.RpcError as error:
                info = error_details_pb2.ErrorInfo()
                [detail] = [d for d in rpc_status.from_call(error).details if d.Unpack(info)]
                print(error.code().name, info.reason)
    """)
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0] == "from-client"
    assert lines[1] == "650.0"
    assert lines[2].startswith("NOT_FOUND ")
