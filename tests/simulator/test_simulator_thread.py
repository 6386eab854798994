"""SimulatorThread from a plain (sync) test, against a receiver served by a thread."""

from collections.abc import Iterator

import pytest

from simulator.client import SimulatorError
from tests.simulator.receivers import ThreadedReceiver
from tests.support.payloads import MERCHANT_KEY
from tests.support.simulator import SimulatorThread


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(key=MERCHANT_KEY, time_scale=100_000) as sim:
        yield sim


@pytest.fixture(autouse=True)
def clean(simulator: SimulatorThread) -> None:
    simulator.reset()


def test_url_and_key(simulator: SimulatorThread) -> None:
    assert simulator.url.startswith("http://127.0.0.1:")
    assert simulator.key == MERCHANT_KEY


def test_create_drive_and_read_an_order(simulator: SimulatorThread) -> None:
    created = simulator.create_order(merchantOrderId="m-1", amount=3.5)
    assert (created["id"], created["status"]) == (1, "pending")
    driven = simulator.set_status(created["id"], "rejected", status_note="declined")
    assert (driven["status"], driven["statusNote"]) == ("rejected", "declined")
    assert simulator.order(created["id"]) == driven


def test_control_errors_raise(simulator: SimulatorThread) -> None:
    with pytest.raises(SimulatorError, match="404"):
        simulator.order(99)


def test_deliveries_through_the_helper(simulator: SimulatorThread) -> None:
    with ThreadedReceiver(answers=[(500, "no")]) as receiver:
        simulator.create_order(notifyUrl=receiver.url, status="completed")
        attempts = simulator.wait_for_deliveries(2)
    assert [(entry["attempt"], entry["ok"]) for entry in attempts] == [(1, False), (2, True)]
    assert simulator.deliveries() == attempts


def test_wait_for_deliveries_times_out_with_what_it_saw(simulator: SimulatorThread) -> None:
    with pytest.raises(TimeoutError, match="saw 0"):
        simulator.wait_for_deliveries(1, timeout_s=0.1)


def test_modes_and_release(simulator: SimulatorThread) -> None:
    with ThreadedReceiver() as receiver:
        simulator.set_notify_mode("out_of_order")
        order = simulator.create_order(notifyUrl=receiver.url, status="completed")
        simulator.set_status(order["id"], "disputed")
        assert simulator.release() == 2
        simulator.wait_for_deliveries(2)
    assert [body["status"] for body in receiver.bodies] == ["disputed", "completed"]


def test_faults_through_the_helper(simulator: SimulatorThread) -> None:
    import json
    import urllib.error
    import urllib.request

    def orders_status() -> int:
        request = urllib.request.Request(
            simulator.url + "/v1/orders", data=json.dumps({"key": simulator.key}).encode(), method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return err.code

    simulator.set_fault(endpoint="/v1/orders", status=429)
    assert orders_status() == 429
    simulator.clear_faults()
    assert orders_status() == 200
