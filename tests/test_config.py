"""Configuration layers (TOML < environment < flags); errors name key, value and expectation."""

import os
import subprocess
import sys

import pytest

from ledgrab.config import ConfigError, load_settings


def test_layers_override_in_order(tmp_path):
    toml = tmp_path / "ledgrab.toml"
    toml.write_text(
        'host = "127.0.0.2"\nport = 9000\nlog_level = "debug"\n[auth]\nenabled = true\n'
    )
    settings = load_settings(
        toml,
        overrides={"port": 9100},
        environ={"LEDGRAB_PORT": "9050", "LEDGRAB_AUTH_ENABLED": "off"},
    )
    assert settings.host == "127.0.0.2"  # from the file
    assert settings.log_level == "debug"
    assert settings.auth.enabled is False  # the environment beats the file
    assert settings.port == 9100  # the flag beats the environment


def test_config_file_comes_from_environment(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('data_dir = "/srv/leds"\n')
    assert load_settings(environ={"LEDGRAB_CONFIG": str(toml)}).data_dir == "/srv/leds"


def test_api_keys_from_environment():
    keys = "desk:0123456789abcdef0123,ci:fedcba9876543210fedc"
    settings = load_settings(environ={"LEDGRAB_API_KEYS": keys})
    assert settings.auth.api_keys == {
        "desk": "0123456789abcdef0123",
        "ci": "fedcba9876543210fedc",
    }


def test_systemd_state_directory_is_the_default_data_dir():
    assert load_settings(environ={"STATE_DIRECTORY": "/var/lib/ledgrab"}).data_dir == (
        "/var/lib/ledgrab"
    )


@pytest.mark.parametrize(
    ("environ", "fragments"),
    [
        ({"LEDGRAB_PORT": "eighty"}, ["port", "'eighty'", "LEDGRAB_PORT", "int"]),
        ({"LEDGRAB_PORT": "70000"}, ["port", "'70000'", "<= 65535"]),
        ({"LEDGRAB_LOG_LEVEL": "loud"}, ["log_level", "'loud'", "debug|info"]),
        ({"LEDGRAB_AUTH_ENABLED": "maybe"}, ["auth.enabled", "'maybe'", "bool"]),
        ({"LEDGRAB_API_KEYS": "desk"}, ["LEDGRAB_API_KEYS", "'desk'", "label:key"]),
        ({"LEDGRAB_API_KEYS": "desk:short"}, ["auth.api_keys", "length >= 16", "<hidden>"]),
    ],
)
def test_bad_values_name_key_value_and_expectation(environ, fragments):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert "short" not in str(caught.value).replace("'desk:short'", "")


def test_unknown_key_and_broken_toml_are_errors(tmp_path):
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 3\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings(unknown, environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_serve_exits_2_before_starting_on_a_bad_value(tmp_path):
    env = {**os.environ, "LEDGRAB_PORT": "eighty", "LEDGRAB_DATA_DIR": str(tmp_path / "d")}
    result = subprocess.run(
        [sys.executable, "-m", "ledgrab", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "port = 'eighty'" in result.stderr
    assert not (tmp_path / "d").exists(), "nothing may start (or be created) on a bad config"
