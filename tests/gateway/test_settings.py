"""Gateway settings (pydantic-settings): S2I_<FIELD> variables, overrides, and one-line
refusals of a bad value, in the process and from `sketch2idol gateway`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sketch2idol.gateway.settings import DEFAULT_T, Settings, SettingsError


@pytest.fixture
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("S2I_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_without_the_environment(clean_env):
    settings = Settings.from_env()
    assert settings.default_t == DEFAULT_T and settings.cors_origins == ()
    assert settings.model_repository == Path("model_repository")


def test_every_field_is_read_from_its_variable(clean_env):
    clean_env.setenv("S2I_DEFAULT_T", "0.25")
    clean_env.setenv("S2I_MAX_PIXELS", "1000")
    clean_env.setenv("S2I_CORS_ORIGINS", " https://a.example , ,https://b.example")
    clean_env.setenv("S2I_MODEL_REPOSITORY", "/srv/models")
    clean_env.setenv("S2I_RATE_LIMIT_PER_S", "0")
    settings = Settings.from_env()
    assert settings.default_t == 0.25 and settings.max_pixels == 1000
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.model_repository == Path("/srv/models")
    assert settings.rate_limit_per_s == 0  # 0 turns the limit off
    assert {Settings.variable(name) for name in Settings.model_fields} >= {
        "S2I_TRITON_GRPC", "S2I_DEFAULT_T", "S2I_CORS_ORIGINS", "S2I_REQUEST_DEADLINE_S"}


def test_overrides_win_and_none_means_not_given(clean_env):
    clean_env.setenv("S2I_TRITON_GRPC", "triton:8001")
    assert Settings.from_env(triton_grpc=None).triton_grpc == "triton:8001"
    assert Settings.from_env(triton_grpc="other:9").triton_grpc == "other:9"


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("S2I_DEFAULT_T", "1.5", "less than or equal to 1"),
    ("S2I_DEFAULT_T", "nan", "finite number"),
    ("S2I_MAX_BODY_BYTES", "0", "greater than 0"),
    ("S2I_RATE_LIMIT_PER_S", "-1", "greater than or equal to 0"),
    ("S2I_TRITON_DEADLINE_S", "soon", "valid number"),
])
def test_a_bad_value_is_refused_in_one_line_naming_the_variable(clean_env, variable, value,
                                                                said):
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    message = str(refused.value)
    assert message.startswith(f"{variable}={value!r}: ") and said in message
    assert "\n" not in message


def test_settings_are_frozen(clean_env):
    settings = Settings.from_env()
    with pytest.raises(ValueError):
        settings.default_t = 0.9


def test_the_gateway_command_refuses_a_bad_setting_with_one_line(clean_env):
    import os

    env = dict(os.environ, S2I_DEFAULT_T="2")
    done = subprocess.run([sys.executable, "-m", "sketch2idol", "gateway", "--port", "1"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("sketch2idol: error: S2I_DEFAULT_T='2': Input should be "
                                   "less than or equal to 1")
