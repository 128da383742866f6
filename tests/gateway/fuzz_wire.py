"""A multipart request as it went over the wire, read the way its schema reads it.

A multipart body carries no types: a one-item list of numbers is sent as the same part as
the number, an empty list sends nothing at all. So a case that schemathesis generated as
schema-violating can arrive as a schema-valid request, and a server that accepts it is
right. schemathesis makes this allowance itself, but only for forms without a file part;
`sent_form_is_valid` makes it for the gateway's form, which always has one:

- a text part is read as JSON text (a number stays a number; NaN and Infinity are not
  numbers) or a plain decimal such as `.5` or `+1`, else kept as the string it is,
- a part sent as a file is the (binary) string a file property takes; a file property sent
  as text, or any property sent more than once where the schema wants one value, is not,
- and the form made of those readings is validated against the form's JSON schema.
"""

from __future__ import annotations

import json
import re
from email.parser import BytesParser
from email.policy import HTTP

import jsonschema

DECIMAL = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
FILE = object()  # marks a part that was sent as a file


def sent_parts(request) -> dict[str, list] | None:
    """Each part of a sent multipart/form-data body: name -> its values, FILE for a file."""
    content_type = request.headers.get("Content-Type", "")
    body = request.body.encode() if isinstance(request.body, str) else request.body
    if not isinstance(body, bytes) or not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    parts: dict[str, list] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        value = FILE if part.get_filename() is not None else payload.decode(errors="replace")
        parts.setdefault(name, []).append(value)
    return parts


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def reading(value, schema: dict):
    """One part's value as the property `schema` reads it."""
    binary = schema.get("contentMediaType") == "application/octet-stream"
    if value is FILE:
        return "" if binary else None  # a file is a string only where a file is wanted
    if binary:
        return None  # text where a file is wanted
    if schema.get("type") in ("number", "integer"):
        try:
            number = json.loads(value, parse_constant=_no_constant)
        except ValueError:
            return float(value) if DECIMAL.match(value) else value
        is_number = isinstance(number, int | float) and not isinstance(number, bool)
        return number if is_number else value
    return value


def sent_form_is_valid(request, form_schema: dict) -> bool:
    """Whether the multipart body of `request`, as sent, is valid under `form_schema`."""
    parts = sent_parts(request)
    if parts is None:
        return False
    properties = form_schema.get("properties", {})
    form = {}
    for name, values in parts.items():
        schema = properties.get(name, {})
        if schema.get("type") == "array":
            form[name] = [reading(value, schema.get("items", {})) for value in values]
        elif len(values) == 1:
            form[name] = reading(values[0], schema)
        else:
            form[name] = [reading(value, schema) for value in values]
    return jsonschema.Draft202012Validator(form_schema).is_valid(form)
