"""``stripay-hooks trigger`` against a simulator thread and a recording receiver."""

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog
from click.testing import CliRunner

from cli.main import main
from shared.embedded_redis import free_port
from shared.signature import verify
from tests.simulator.receivers import ThreadedReceiver
from tests.support.payloads import MERCHANT_KEY
from tests.support.simulator import SimulatorThread


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(key=MERCHANT_KEY, time_scale=10_000) as sim:
        yield sim


@pytest.fixture(autouse=True)
def quiet_simulator_logs() -> Iterator[None]:
    """Keep the simulator thread's log lines out of the command's captured stdout."""
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
def receiver(simulator: SimulatorThread) -> Iterator[ThreadedReceiver]:
    simulator.reset()
    with ThreadedReceiver() as target:
        yield target


def run(simulator: SimulatorThread, receiver: ThreadedReceiver, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["trigger", *args, "--simulator", simulator.url, "--notify-url", receiver.url])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("scenario", "statuses"),
    [
        ("completed", ["completed"]),
        ("refunded", ["completed", "refunded"]),
        ("disputed", ["completed", "disputed"]),
        ("rejected", ["rejected"]),
        ("retry-storm", ["completed"] * 5),
    ],
)
def test_scenario_sends_its_notifications(
    simulator: SimulatorThread, receiver: ThreadedReceiver, scenario: str, statuses: list[str]
) -> None:
    exit_code, stdout, _ = run(simulator, receiver, scenario)
    assert exit_code == 0
    assert sorted(body["status"] for body in receiver.bodies) == sorted(statuses)
    for body in receiver.bodies:
        verify(body, [MERCHANT_KEY])
    assert stdout.count('-> 200 "OK"  delivered') == len(statuses)


def test_out_of_order_delivers_refunded_before_completed(
    simulator: SimulatorThread, receiver: ThreadedReceiver
) -> None:
    exit_code, stdout, _ = run(simulator, receiver, "out-of-order")
    assert exit_code == 0
    assert [body["status"] for body in receiver.bodies] == ["refunded", "completed"]
    assert stdout.index("sent refunded") < stdout.index("sent completed")
    assert simulator.client.notify_state()["mode"] == "normal"


def test_json_output(simulator: SimulatorThread, receiver: ThreadedReceiver) -> None:
    exit_code, stdout, _ = run(simulator, receiver, "refunded", "--json")
    assert exit_code == 0
    result = json.loads(stdout)
    assert (result["scenario"], result["order"]["status"]) == ("refunded", "refunded")
    assert sorted(entry["status"] for entry in result["deliveries"]) == ["completed", "refunded"]
    assert all(entry["ok"] for entry in result["deliveries"])


def test_a_refusing_receiver_is_reported(simulator: SimulatorThread) -> None:
    simulator.reset()
    with ThreadedReceiver(answers=[(403, "signature does not match")] * 10) as refusing:
        exit_code, stdout, _ = run(simulator, refusing, "completed", "--wait-s", "0.5")
    assert exit_code == 0
    assert '403 "signature does not match"  not acknowledged' in stdout


def test_unreachable_simulator_is_one_line_and_exit_1() -> None:
    # A process of its own: in this one, the module's simulator thread may log a late
    # notification attempt while the command's stderr is being captured.
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([sys.executable, "-m", "cli", "trigger", "completed", "--simulator", url],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"cannot reach the simulator at {url}" in result.stderr
