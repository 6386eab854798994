import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import DEFAULT_API_URL, Settings, SettingsError

BASE = {"STRIPAY_MERCHANT_KEY": "key-a"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.api_url, settings.port, settings.dedupe_ttl_s, settings.max_body_bytes) == (
        DEFAULT_API_URL, 8080, 259200, 8192)
    assert settings.redis_url is None


def test_missing_merchant_key_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="STRIPAY_MERCHANT_KEY"):
        Settings.from_env({})


@pytest.mark.parametrize(("name", "value"), [("PORT", "eighty"), ("STRIPAY_DEDUPE_TTL_S", "0"),
                                             ("STRIPAY_MAX_BODY_BYTES", "-1"), ("STRIPAY_API_TIMEOUT_S", "0"),
                                             ("STRIPAY_RETRY_S", "1,x"), ("STRIPAY_API_URL", "ftp://x")])
def test_invalid_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value})


def test_forward_url_needs_a_secret() -> None:
    with pytest.raises(SettingsError, match="STRIPAY_FORWARD_SECRET"):
        Settings.from_env({**BASE, "STRIPAY_FORWARD_URL": "https://example.com/hook"})


def test_key_list_rotation_first_key_is_used_for_api_calls() -> None:
    settings = Settings.from_env({"STRIPAY_MERCHANT_KEY": "new, old"})
    assert settings.merchant_keys == ("new", "old")
    assert settings.api_key == "new"


def test_merchants_file_maps_merchant_ids_to_keys(tmp_path: Path) -> None:
    path = tmp_path / "merchants.toml"
    path.write_text('[merchants]\n1 = ["one-new", "one-old"]\n7 = "seven"\n')
    settings = Settings.from_env({**BASE, "STRIPAY_MERCHANTS_FILE": str(path)})
    assert settings.keys_for(1) == ("one-new", "one-old")
    assert settings.keys_for("7") == ("seven",)
    assert settings.keys_for(99) == ("key-a",)


def test_merchants_file_alone_is_enough(tmp_path: Path) -> None:
    path = tmp_path / "merchants.toml"
    path.write_text('[merchants]\n1 = "one"\n')
    assert Settings.from_env({"STRIPAY_MERCHANTS_FILE": str(path)}).api_key == "one"


def test_unreadable_merchants_file_is_a_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "merchants.toml"
    path.write_text("not = [toml")
    with pytest.raises(SettingsError, match="STRIPAY_MERCHANTS_FILE"):
        Settings.from_env({**BASE, "STRIPAY_MERCHANTS_FILE": str(path)})


def test_repr_never_shows_keys() -> None:
    settings = Settings.from_env({"STRIPAY_MERCHANT_KEY": "super-secret-key"})
    assert "super-secret-key" not in repr(settings)


def test_bad_setting_stops_start_up_with_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "cli", "receiver"], env={"PORT": "x", "PATH": ""},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["stripay-hooks: STRIPAY_MERCHANT_KEY is required (the Stripay "
                                                  "merchant key)"]
    assert "Traceback" not in result.stderr


def test_api_calls_use_the_first_key_of_the_orders_merchant(tmp_path: Path) -> None:
    path = tmp_path / "merchants.toml"
    path.write_text('[merchants]\n1 = ["one-new", "one-old"]\n7 = "seven"\n')
    settings = Settings.from_env({**BASE, "STRIPAY_MERCHANTS_FILE": str(path)})
    assert settings.api_key_for(1) == "one-new"
    assert settings.api_key_for("7") == "seven"
    assert settings.api_key_for(99) == settings.api_key_for(None) == "key-a"


def test_every_configured_merchant_is_listed_once_for_the_sweep(tmp_path: Path) -> None:
    path = tmp_path / "merchants.toml"
    path.write_text('[merchants]\n1 = ["one-new", "one-old"]\n7 = "seven"\n')
    with_default = Settings.from_env({"STRIPAY_MERCHANT_KEY": "key-a", "STRIPAY_MERCHANTS_FILE": str(path)})
    assert with_default.api_merchants() == [("1", "one-new"), ("7", "seven"), (None, "key-a")]
    same_key = Settings.from_env({"STRIPAY_MERCHANT_KEY": "seven", "STRIPAY_MERCHANTS_FILE": str(path)})
    assert same_key.api_merchants() == [("1", "one-new"), ("7", "seven")]


def test_billrun_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.public_url is None
    assert (settings.billrun.shared_secrets, settings.billrun.signature_tolerance_s, settings.billrun.redirect_hosts,
            settings.billrun.lookup_interval_s) == ((), 300, (), 2.0)


def test_billrun_settings_are_read() -> None:
    settings = Settings.from_env({**BASE, "STRIPAY_PUBLIC_URL": "https://pay.example.com/",
                                  "BILLRUN_SHARED_SECRETS": "0123456789abcdef, fedcba9876543210fedc",
                                  "BILLRUN_SIGNATURE_TOLERANCE_S": "60",
                                  "BILLRUN_REDIRECT_HOSTS": "Shop.Example.com, *.billing.example",
                                  "BILLRUN_LOOKUP_INTERVAL_S": "0.5"})
    assert settings.public_url == "https://pay.example.com"
    assert settings.billrun.shared_secrets == ("0123456789abcdef", "fedcba9876543210fedc")
    assert settings.billrun.signature_tolerance_s == 60
    assert settings.billrun.redirect_hosts == ("shop.example.com", "*.billing.example")
    assert settings.billrun.lookup_interval_s == 0.5


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080",
                                 "https://pay.example.com/hooks"])
def test_public_url_https_or_http_on_loopback(url: str) -> None:
    assert Settings.from_env({**BASE, "STRIPAY_PUBLIC_URL": url}).public_url == url


@pytest.mark.parametrize("url", ["http://pay.example.com", "ftp://pay.example.com", "pay.example.com",
                                 "https://user:pw@pay.example.com", "https://pay.example.com/?x=1",
                                 "https://pay.example.com\\@evil.example", "http://10.0.0.1"])
def test_public_url_must_be_https_or_http_on_loopback(url: str) -> None:
    with pytest.raises(SettingsError, match="STRIPAY_PUBLIC_URL"):
        Settings.from_env({**BASE, "STRIPAY_PUBLIC_URL": url})


@pytest.mark.parametrize(("name", "value"), [("BILLRUN_SIGNATURE_TOLERANCE_S", "0"),
                                             ("BILLRUN_SIGNATURE_TOLERANCE_S", "five"),
                                             ("BILLRUN_LOOKUP_INTERVAL_S", "0"),
                                             ("BILLRUN_REDIRECT_HOSTS", "shop.example.com:443"),
                                             ("BILLRUN_REDIRECT_HOSTS", "*.com"),
                                             ("BILLRUN_REDIRECT_HOSTS", "https://shop.example.com")])
def test_invalid_billrun_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value})


def test_short_shared_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({**BASE, "BILLRUN_SHARED_SECRETS": "0123456789abcdef,short-secret"})
    assert str(err.value) == ("BILLRUN_SHARED_SECRETS: secret 2 has 12 characters, at least 16 are required")


def test_repr_never_shows_shared_secrets() -> None:
    settings = Settings.from_env({**BASE, "BILLRUN_SHARED_SECRETS": "very-secret-shared-value"})
    assert "very-secret-shared-value" not in repr(settings)


def test_bad_billrun_setting_stops_start_up_with_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "cli", "receiver"],
                            env={"STRIPAY_MERCHANT_KEY": "key-a", "REDIS_URL": "redis://127.0.0.1:1",
                                 "BILLRUN_SHARED_SECRETS": "too-short", "PATH": ""},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["stripay-hooks: BILLRUN_SHARED_SECRETS: secret 1 has 9 characters,"
                                                  " at least 16 are required"]
    assert "too-short" not in result.stderr + result.stdout
