"""Settings: read once from the environment into a frozen dataclass.

Nothing reads ``os.environ`` at import time; entry points call
``Settings.from_env(os.environ)`` once and pass the object down.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.jsvalue import js_string
from shared.url_rules import host_pattern, public_base_url

DEFAULT_API_URL = "https://api.stripay.io"
DEFAULT_RECHECK_S = (600, 1800, 3600, 86400)  # Stripay's own retry schedule
DEFAULT_RETRY_S = (1, 5, 30, 120, 600)
DEFAULT_MAX_BODY_BYTES = 8192
MIN_SHARED_SECRET_CHARS = 16


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be > 0, got {raw!r}")
    return value


def _schedule(environ: Mapping[str, str], name: str, default: tuple[float, ...]) -> tuple[float, ...]:
    raw = environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise SettingsError(f"{name} must be comma-separated seconds, got {raw!r}") from None
    if any(value < 0 for value in values):
        raise SettingsError(f"{name} must not contain negative seconds")
    return values


def _keys(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _load_merchants(path_text: str) -> dict[str, tuple[str, ...]]:
    """TOML ``[merchants]`` table (or top level) mapping merchantId to a key or list of keys."""
    name = "STRIPAY_MERCHANTS_FILE"
    try:
        document = tomllib.loads(Path(path_text).read_text(encoding="utf-8"))
    except OSError as err:
        raise SettingsError(f"{name}: cannot read {path_text!r} ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise SettingsError(f"{name}: {path_text!r} is not valid TOML ({err})") from None
    table = document.get("merchants", document)
    merchants: dict[str, tuple[str, ...]] = {}
    for merchant_id, keys in table.items():
        if isinstance(keys, str):
            keys = [keys]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise SettingsError(f"{name}: merchant {merchant_id!r} needs a key or a non-empty list of keys")
        merchants[str(merchant_id)] = tuple(keys)
    return merchants


def _public_url(environ: Mapping[str, str]) -> str | None:
    raw = environ.get("STRIPAY_PUBLIC_URL", "").strip()
    if raw == "":
        return None
    try:
        return public_base_url(raw)
    except ValueError as err:
        raise SettingsError(f"STRIPAY_PUBLIC_URL {err}, got {raw!r}") from None


def _shared_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    secrets = _keys(environ.get("BILLRUN_SHARED_SECRETS", ""))
    for position, secret in enumerate(secrets, start=1):
        if len(secret) < MIN_SHARED_SECRET_CHARS:  # the message names the place, never the secret
            raise SettingsError(f"BILLRUN_SHARED_SECRETS: secret {position} has {len(secret)} characters,"
                                f" at least {MIN_SHARED_SECRET_CHARS} are required")
    return secrets


def _redirect_hosts(environ: Mapping[str, str]) -> tuple[str, ...]:
    try:
        return tuple(host_pattern(entry) for entry in _keys(environ.get("BILLRUN_REDIRECT_HOSTS", "")))
    except ValueError as err:
        raise SettingsError(f"BILLRUN_REDIRECT_HOSTS: {err}") from None


@dataclass(frozen=True)
class BillrunSettings:
    """BillRun's payment-gateway endpoints (docs/billrun.md)."""

    shared_secrets: tuple[str, ...] = field(default=(), repr=False)  # any may sign getRequest (rotation)
    signature_tolerance_s: int = 300  # how far _t_ may be from now; a used _sig_ is kept this long
    redirect_hosts: tuple[str, ...] = ()  # allowed ok_page/fail_page hosts; empty: STRIPAY_PUBLIC_URL's host
    lookup_interval_s: float = 2.0  # at most one okPage lookup at Stripay per txId per this many seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "BillrunSettings":
        return cls(
            shared_secrets=_shared_secrets(environ),
            signature_tolerance_s=_int(environ, "BILLRUN_SIGNATURE_TOLERANCE_S", 300, minimum=1),
            redirect_hosts=_redirect_hosts(environ),
            lookup_interval_s=_float(environ, "BILLRUN_LOOKUP_INTERVAL_S", 2.0),
        )


@dataclass(frozen=True)
class Settings:
    merchant_keys: tuple[str, ...] = field(repr=False)
    merchants: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    api_url: str = DEFAULT_API_URL
    redis_url: str | None = None
    host: str = "0.0.0.0"
    port: int = 8080
    metrics_port: int = 9107  # the receiver's /metrics (0: not served)
    dedupe_ttl_s: int = 259200
    # Real notifications are 1-2 KB; the documented field limits (two 1024-character
    # URLs, a 64-character order id) put the largest near 3 KB.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_s: float = 10.0  # a body not received within this is answered 408
    keepalive_timeout_s: float = 75.0  # an idle keep-alive connection is closed after this
    quarantine_max_len: int = 10000
    quarantine_max_bytes: int = 16 * 1024 * 1024
    quarantine_writes_per_s: float = 50.0  # per receiver process
    quarantine_ttl_s: int = 7 * 86400
    recheck_s: tuple[float, ...] = DEFAULT_RECHECK_S
    retry_s: tuple[float, ...] = DEFAULT_RETRY_S
    api_timeout_s: float = 10.0
    coalesce_s: float = 2.0
    job_timeout_s: int = 60
    # A finished job (hash and result) costs ~6 KB; the order store keeps what matters.
    result_ttl_s: int = 3600
    failure_ttl_s: int = 30 * 86400
    # A validly signed notification of an order Stripay does not know: kept this long, not failed.
    unknown_order_ttl_s: int = 86400
    forward_url: str | None = None
    forward_secret: str | None = field(default=None, repr=False)
    handler: str | None = None
    sweep_every_s: int = 0
    public_url: str | None = None  # https (http on loopback only), checked; needed by the BillRun endpoints
    billrun: BillrunSettings = field(default_factory=BillrunSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        merchants_file = environ.get("STRIPAY_MERCHANTS_FILE", "").strip()
        merchants = _load_merchants(merchants_file) if merchants_file else {}
        merchant_keys = _keys(environ.get("STRIPAY_MERCHANT_KEY", ""))
        if not merchant_keys and not merchants:
            raise SettingsError("STRIPAY_MERCHANT_KEY is required (the Stripay merchant key)")
        api_url = environ.get("STRIPAY_API_URL", "").strip() or DEFAULT_API_URL
        if not api_url.startswith(("http://", "https://")):
            raise SettingsError(f"STRIPAY_API_URL must be an http(s) URL, got {api_url!r}")
        forward_url = environ.get("STRIPAY_FORWARD_URL", "").strip() or None
        forward_secret = environ.get("STRIPAY_FORWARD_SECRET", "").strip() or None
        if forward_url and not forward_secret:
            raise SettingsError("STRIPAY_FORWARD_SECRET is required when STRIPAY_FORWARD_URL is set")
        return cls(
            merchant_keys=merchant_keys,
            merchants=merchants,
            api_url=api_url.rstrip("/"),
            redis_url=environ.get("REDIS_URL", "").strip() or None,
            host=environ.get("HOST", "").strip() or "0.0.0.0",
            port=_int(environ, "PORT", 8080),
            metrics_port=_int(environ, "METRICS_PORT", 9107),
            dedupe_ttl_s=_int(environ, "STRIPAY_DEDUPE_TTL_S", 259200, minimum=1),
            max_body_bytes=_int(environ, "STRIPAY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1),
            body_timeout_s=_float(environ, "STRIPAY_BODY_TIMEOUT_S", 10.0),
            keepalive_timeout_s=_float(environ, "STRIPAY_KEEPALIVE_TIMEOUT_S", 75.0),
            quarantine_max_len=_int(environ, "STRIPAY_QUARANTINE_MAX_LEN", 10000, minimum=1),
            quarantine_max_bytes=_int(environ, "STRIPAY_QUARANTINE_MAX_BYTES", 16 * 1024 * 1024, minimum=4096),
            quarantine_writes_per_s=_float(environ, "STRIPAY_QUARANTINE_WRITES_PER_S", 50.0),
            quarantine_ttl_s=_int(environ, "STRIPAY_QUARANTINE_TTL_S", 7 * 86400, minimum=1),
            recheck_s=_schedule(environ, "STRIPAY_RECHECK_S", DEFAULT_RECHECK_S),
            retry_s=_schedule(environ, "STRIPAY_RETRY_S", DEFAULT_RETRY_S),
            api_timeout_s=_float(environ, "STRIPAY_API_TIMEOUT_S", 10.0),
            coalesce_s=_float(environ, "STRIPAY_COALESCE_S", 2.0),
            job_timeout_s=_int(environ, "STRIPAY_JOB_TIMEOUT_S", 60, minimum=1),
            unknown_order_ttl_s=_int(environ, "STRIPAY_UNKNOWN_ORDER_TTL_S", 86400, minimum=1),
            forward_url=forward_url,
            forward_secret=forward_secret,
            handler=environ.get("STRIPAY_HANDLER", "").strip() or None,
            sweep_every_s=_int(environ, "STRIPAY_SWEEP_EVERY_S", 0),
            public_url=_public_url(environ),
            billrun=BillrunSettings.from_env(environ),
        )

    def keys_for(self, merchant_id: object) -> tuple[str, ...]:
        """Keys that may sign a notification from ``merchant_id`` (all are tried)."""
        if merchant_id is not None and self.merchants:
            keys = self.merchants.get(js_string(merchant_id))
            if keys:
                return keys
        return self.merchant_keys

    @property
    def api_key(self) -> str:
        """The default merchant's API key: the first of ``STRIPAY_MERCHANT_KEY``, else of the
        first merchant in ``STRIPAY_MERCHANTS_FILE``. Orders created by this service (BillRun's
        checkout) belong to that merchant; every other call uses :meth:`api_key_for`."""
        if self.merchant_keys:
            return self.merchant_keys[0]
        return next(iter(self.merchants.values()))[0]

    def api_key_for(self, merchant_id: object) -> str:
        """The key for API calls about an order of ``merchant_id``: the first of the keys
        that verify its notifications (the first is the current one during a rotation).
        A merchant not in the file (or no merchant id) falls back to the default key,
        exactly as signature verification does."""
        keys = self.keys_for(merchant_id)
        return keys[0] if keys else self.api_key

    def api_merchants(self) -> list[tuple[str | None, str]]:
        """(merchant id, API key) of every configured merchant, each key once; the merchant
        of ``STRIPAY_MERCHANT_KEY`` has no configured id (None) unless its key is also in the file."""
        found: list[tuple[str | None, str]] = [(merchant_id, keys[0]) for merchant_id, keys in self.merchants.items()]
        if self.merchant_keys and all(key != self.merchant_keys[0] for _, key in found):
            found.append((None, self.merchant_keys[0]))
        return found
