import json

from shared.logging import configure_logging, get_logger, mask_email, mask_ip


def test_mask_email_keeps_first_letter_and_domain() -> None:
    assert mask_email("buyer@example.com") == "b***@example.com"


def test_mask_ip_hides_host_part() -> None:
    assert mask_ip("102.171.177.216") == "102.171.x.x"
    assert mask_ip("2001:db8::1") == "2001:x:x"


def test_secret_fields_are_redacted_and_pii_masked(capsys) -> None:
    configure_logging(json_lines=True)
    get_logger("t").info("event", key="merchant-key-value", sign="abc", email="buyer@example.com",
                         ip="10.1.2.3")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["key"], line["sign"], line["email"], line["ip"]) == ("[redacted]", "[redacted]",
                                                                       "b***@example.com", "10.1.x.x")


def test_http_client_request_lines_are_not_logged(capsys) -> None:
    import logging

    configure_logging(json_lines=True)
    logging.getLogger("urllib3.connectionpool").info("HTTP Request: POST http://127.0.0.1/v1/order")
    assert "HTTP Request" not in capsys.readouterr().err


def test_json_line_writes_what_orjson_refuses() -> None:
    from shared.logging import json_line

    line = json.loads(json_line({"order_id": 10**30, 3: "int key", "event": "x"}))
    assert line == {"order_id": 10**30, "3": "int key", "event": "x"}


def test_a_log_line_with_a_huge_number_is_written(capsys) -> None:
    configure_logging(json_lines=True)
    get_logger("t").info("notification", order_id=10**25)
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["order_id"] == 10**25
