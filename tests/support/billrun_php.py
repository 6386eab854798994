"""Real PHP as BillRun runs it: many cases in one ``php`` run (tests/support/billrun_sign.php)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parent / "billrun_sign.php"
NO_PHP = "php is not installed (Debian: apt-get install php-cli; `make test` does it when run as root)"


def php_available() -> bool:
    return shutil.which("php") is not None


requires_php = pytest.mark.skipif(not php_available(), reason=NO_PHP)


def run_php(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each case's answer from PHP, in order."""
    lines = "".join(json.dumps(case) + "\n" for case in cases)
    out = subprocess.run(["php", str(SCRIPT)], input=lines, capture_output=True, text=True, check=True, timeout=120)
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == len(cases), out.stderr
    return answers


def php_sign(data: dict[str, Any] | str, secret: str) -> dict[str, Any]:
    """``data`` (a dict, or the exact text to send) signed by PHP: the text to send as ``data``."""
    raw = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    [answer] = run_php([{"data": raw, "secret": secret}])
    assert "error" not in answer, answer
    fields = json.loads(raw)
    fields["_sig_"] = answer["sig"]
    return fields
