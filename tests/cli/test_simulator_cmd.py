"""`stripay-hooks simulator`: its options are checked before anything starts."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import main
from cli.simulator_cmd import _merchant


def run(*args: str):
    return CliRunner().invoke(main, ["simulator", "--key", "k1", *args], catch_exceptions=False)


def test_a_further_merchant_is_an_id_and_a_key() -> None:
    assert _merchant("2=secret") == (2, "secret")


def test_a_merchant_without_an_integer_id_is_a_usage_error() -> None:
    result = run("--merchant", "two=secret")
    assert result.exit_code == 2
    assert "ID=KEY" in result.output and "secret" not in result.output


def test_a_merchant_id_given_twice_is_a_usage_error() -> None:
    result = run("--merchant", "1=other")
    assert result.exit_code == 2
    assert "distinct" in result.output
