"""The fields of a JSON answer that its OpenAPI schema does not name. A field the document
leaves out is one no client (and no fuzzer) is promised: the document has drifted from the
code (as `model.projection_version` once did).

    assert undocumented(body, response_schema(document, "/v1/faces", "post"), document) == []
"""

from __future__ import annotations


def response_schema(document: dict, path: str, method: str, status: str = "200") -> dict:
    """The JSON schema of an operation's answer with `status`."""
    responses = document["paths"][path][method]["responses"]
    return responses[status]["content"]["application/json"]["schema"]


def resolve(schema: dict, document: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def undocumented(value, schema: dict, document: dict, where: str = "body") -> list[str]:
    """Where `value` holds an object key that `schema` (resolved in `document`) does not
    name, e.g. ["body.model.projection_version"]; [] when every field is documented."""
    schema = resolve(schema, document)
    if "anyOf" in schema:  # e.g. ModelIdentity | None: the alternative that fits best
        return min((undocumented(value, option, document, where) for option in schema["anyOf"]),
                   key=len)
    if isinstance(value, dict):
        missing = []
        for key, item in value.items():
            inner = schema.get("properties", {}).get(key, schema.get("additionalProperties"))
            if isinstance(inner, dict):
                missing += undocumented(item, inner, document, f"{where}.{key}")
            else:
                missing.append(f"{where}.{key}")
        return missing
    if isinstance(value, list):
        return [field for index, item in enumerate(value)
                for field in undocumented(item, schema.get("items", {}), document,
                                          f"{where}[{index}]")]
    return []
