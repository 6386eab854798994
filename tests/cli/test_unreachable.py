"""Every command that needs Redis says so in one line and exits 1 when it cannot reach it."""

import pytest

from shared.embedded_redis import free_port
from tests.cli.helpers import invoke
from tests.support.payloads import MERCHANT_KEY

COMMANDS = [
    ("events", "failed"),
    ("events", "failed", "--json"),
    ("events", "show", "some-job"),
    ("events", "replay", "--all"),
    ("events", "replay", "some-job"),
    ("events", "rejected"),
    ("events", "replay-rejected"),
    ("orders", "show", "1"),
    ("orders", "reconcile", "1"),
    ("orders", "sweep", "--since", "1h"),
    ("stats",),
    ("stats", "--json"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_redis_unreachable_is_one_line_and_exit_1(args) -> None:
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "STRIPAY_MERCHANT_KEY": MERCHANT_KEY,
           "STRIPAY_MERCHANTS_FILE": None, "STRIPAY_API_URL": f"http://127.0.0.1:{free_port()}"}
    result = invoke(env, *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("stripay-hooks: Redis unreachable at REDIS_URL: ConnectionError")


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_redis_url_is_a_usage_error(args) -> None:
    result = invoke({"REDIS_URL": None, "STRIPAY_MERCHANT_KEY": MERCHANT_KEY, "STRIPAY_MERCHANTS_FILE": None}, *args)
    assert (result.exit_code, result.stderr) == (2, "stripay-hooks: REDIS_URL is required\n")
