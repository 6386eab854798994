"""`stripay-hooks sign`: Stripay's signature, on the reference vectors."""

import json

import pytest

from shared.signature import signing_string
from tests.cli.helpers import invoke
from tests.support.payloads import MERCHANT_KEY, load_vectors

NO_ENV = {"STRIPAY_MERCHANT_KEY": None, "STRIPAY_MERCHANTS_FILE": None, "REDIS_URL": None}
VECTORS = load_vectors()


def write(tmp_path, body: str):
    path = tmp_path / "payload.json"
    path.write_text(body, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_computes_the_reference_signature(vector, tmp_path) -> None:
    payload = json.loads(vector["body"])
    payload.pop("sign")
    result = invoke(NO_ENV, "sign", write(tmp_path, json.dumps(payload, ensure_ascii=False)), "--key", vector["key"])
    assert (result.exit_code, result.stdout) == (0, vector["expected_sign"] + "\n")


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_verdict_on_the_reference_body(vector, tmp_path) -> None:
    result = invoke(NO_ENV, "sign", write(tmp_path, vector["body"]), "--key", vector["key"])
    if vector["valid"]:
        assert (result.exit_code, result.stdout) == (0, "signature verifies (--key key)\n")
    else:
        assert result.exit_code == 1
        assert result.stdout.startswith("signature does not verify: signature does not match\n")
        assert vector["expected_sign"] in result.stdout


def test_failed_verification_shows_the_hashed_string_with_the_key_hidden(tmp_path) -> None:
    [vector] = [v for v in VECTORS if v["name"] == "tampered status"]
    result = invoke(NO_ENV, "sign", write(tmp_path, vector["body"]), "--key", vector["key"], "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["hashed"] == json.dumps(signing_string(json.loads(vector["body"]))) + " + <key>"
    assert vector["key"] not in result.stdout
    assert (document["verifies"], document["expected"]) == (False, [vector["expected_sign"]])


def test_reads_stdin_and_uses_the_configured_keys() -> None:
    [vector] = [v for v in VECTORS if v["name"] == "refunded"]
    env = {**NO_ENV, "STRIPAY_MERCHANT_KEY": f"a-newer-key,{MERCHANT_KEY}"}
    result = invoke(env, "sign", "-", input=vector["body"])
    assert (result.exit_code, result.stdout) == (0, "signature verifies (configured keys)\n")
    assert invoke(env, "sign", input=vector["body"]).exit_code == 0


def test_computing_uses_the_first_configured_key() -> None:
    [vector] = [v for v in VECTORS if v["name"] == "refunded"]
    payload = {k: v for k, v in json.loads(vector["body"]).items() if k != "sign"}
    env = {**NO_ENV, "STRIPAY_MERCHANT_KEY": f"{MERCHANT_KEY},another-key"}
    assert invoke(env, "sign", input=json.dumps(payload)).stdout == vector["expected_sign"] + "\n"


def test_unreadable_payload_is_one_line_and_exit_1() -> None:
    result = invoke(NO_ENV, "sign", "--key", "k", input="{not json")
    assert (result.exit_code, result.stderr) == (1, "stripay-hooks: cannot read the payload: body is not valid JSON\n")


def test_missing_file_is_a_usage_error(tmp_path) -> None:
    assert invoke(NO_ENV, "sign", str(tmp_path / "absent.json"), "--key", "k").exit_code == 2


def test_no_key_anywhere_is_a_usage_error() -> None:
    result = invoke(NO_ENV, "sign", input='{"id": 1}')
    assert result.exit_code == 2
    assert "STRIPAY_MERCHANT_KEY is required" in result.stderr


def test_signed_payload_the_receiver_would_refuse_as_malformed_says_why_and_exits_1() -> None:
    result = invoke(NO_ENV, "sign", "--key", "k", input='{"status": "completed", "sign": "' + "0" * 32 + '"}')
    assert (result.exit_code, result.stderr) == (
        1, "stripay-hooks: not a notification the receiver accepts: missing id\n")
