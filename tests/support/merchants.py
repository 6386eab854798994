"""Two merchants, each with its own key, for tests of a service serving several merchants."""

from __future__ import annotations

from pathlib import Path

from tests.support.payloads import MERCHANT_KEY

MERCHANT_A = 1
MERCHANT_B = 2
KEY_B = "5f4dcc3b5aa765d61d8327deb882cf99"
KEY_B_OLD = "e10adc3949ba59abbe56e057f20f883e"  # still verifies B's notifications during a rotation
MERCHANTS = {str(MERCHANT_A): (MERCHANT_KEY,), str(MERCHANT_B): (KEY_B, KEY_B_OLD)}


def write_merchants_file(path: Path, merchants: dict[str, tuple[str, ...]] = MERCHANTS) -> Path:
    """A ``STRIPAY_MERCHANTS_FILE`` (TOML) mapping each merchant id to its keys, newest first."""
    lines = ["[merchants]"]
    for merchant_id, keys in merchants.items():
        lines.append(f'"{merchant_id}" = [{", ".join(f"{chr(34)}{key}{chr(34)}" for key in keys)}]')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
