"""config.pbtxt `parameters` as the Triton Python models read them (string values)."""

from __future__ import annotations


def model_parameters(model_config: dict) -> dict[str, str]:
    """config.pbtxt `parameters` as {key: string_value}, blank values left out."""
    return {key: value["string_value"].strip()
            for key, value in model_config.get("parameters", {}).items()
            if value.get("string_value", "").strip()}


def parse_parameter(parameters: dict[str, str], name: str, convert: type, default=None):
    """One parameter converted with `convert` (int, float, str); `default` when absent."""
    if name not in parameters:
        return default
    try:
        return convert(parameters[name])
    except ValueError:
        raise ValueError(f"config.pbtxt parameter {name}={parameters[name]!r} is not a valid "
                         f"{convert.__name__}") from None
