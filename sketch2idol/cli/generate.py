"""`sketch2idol generate`: one sketch file -> one face PNG, through the gateway or Triton.

By default the sketch file is POSTed as it is to the gateway's `POST /v1/faces` (httpx),
which checks and frames it. With `--triton HOST:PORT` the command prepares the sketch
itself with the gateway's own functions (`core.faces_request`: the same limits, the same
refusals of a blank or tiny image, the same framing to the size the served ensemble takes,
the same input tensors) and calls the `sketch2face` ensemble over gRPC. Both paths refuse
the same drawings and return the same pixels. Every failure is one line (`UserError`).

The look (`--look`, `--seed`, `--hair` ... `--background2`) is resolved here with the
gateway's own rules (`sketch2idol.gateway.looks.pick_look`: a seed alone means `random`, `random`
alone
gets a picked seed) before anything is sent, so a bad value is refused at once and both
paths paint the same look: the gateway gets the look's form fields, Triton its APPEARANCE
row. The look used is printed on one line.
"""

from __future__ import annotations

import argparse
import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sketch2idol.cli.arguments import positive_seconds, unit_interval
from sketch2idol.core.contract import GATEWAY_PORT, LOOK_FIELDS
from sketch2idol.core.errors import UserError
from sketch2idol.core.faces_request import CONTENT_TYPES
from sketch2idol.core.geometry import COMPONENTS
from sketch2idol.core.looks import DEFAULT_LOOK, RANDOM_LOOK, LookError, parse_hex, to_hex
from sketch2idol.gateway import settings
from sketch2idol.gateway.looks import COLOUR_HELP, LOOK_NAMES, ChosenLook, pick_look, read_seed

DEFAULT_SERVER = f"http://127.0.0.1:{GATEWAY_PORT}"
DEFAULT_T = settings.DEFAULT_T  # the gateway's default, chosen by measurement
DEFAULT_TIMEOUT_S = 30.0
FACES_ROUTE = "/v1/faces"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class GeneratedImages:
    """What a server sent back, as PNG files' bytes."""

    face_png: bytes
    refined_png: bytes | None = None
    look: dict | None = None  # the look the server reports (the gateway's JSON "look")


def colour_option(field: str) -> str:
    """`background2` -> `--background2`."""
    return "--" + field.replace("_", "-")


def component_option(component: str) -> str:
    """`left_eye` -> `--t-left-eye`."""
    return "--t-" + component.replace("_", "-")


def register(groups: argparse._SubParsersAction) -> None:
    generate = groups.add_parser(
        "generate", help="turn a sketch file into a face PNG using a running server",
        description="Send a sketch (PNG or JPEG) to the gateway (default) or straight to "
                    "Triton's gRPC endpoint and write the face as a PNG.")
    generate.add_argument("sketch", type=Path, metavar="SKETCH", help="PNG or JPEG drawing")
    generate.add_argument("-o", "--output", type=Path, required=True, metavar="FACE.png",
                          help="where to write the face (PNG)")
    generate.add_argument("--t", type=unit_interval, default=DEFAULT_T,
                          help="blend factor of every component: 1 keeps the drawing, 0 snaps "
                               f"it onto the learned faces (default: {DEFAULT_T})")
    for component in COMPONENTS:
        generate.add_argument(component_option(component), dest=f"t_{component}",
                              type=unit_interval, default=None, metavar="T",
                              help=f"blend factor of the {component.replace('_', ' ')} "
                                   "(default: --t)")
    generate.add_argument("--refined", type=Path, default=None, metavar="R.png",
                          help="also write the refined sketch (PNG)")
    looks = generate.add_argument_group(
        "look", "the colours the face is painted in: a named look, then any colour on top "
                "(`#rrggbb`); `sketch2idol generate --look random` draws one")
    # Checked in run_generate with the gateway's functions: one line, as the gateway says it.
    looks.add_argument("--look", default=None, metavar="NAME",
                       help=f"one of {', '.join(LOOK_NAMES)} (default: {DEFAULT_LOOK}, or "
                            f"{RANDOM_LOOK} with --seed)")
    looks.add_argument("--seed", default=None, metavar="N",
                       help=f"which {RANDOM_LOOK} look, a whole number (default: a new one, "
                            "printed)")
    for field in LOOK_FIELDS:
        looks.add_argument(colour_option(field), dest=field, default=None, metavar="#RRGGBB",
                           help=COLOUR_HELP[field])
    target = generate.add_mutually_exclusive_group()
    target.add_argument("--server", default=DEFAULT_SERVER, metavar="URL",
                        help=f"the gateway (default: {DEFAULT_SERVER})")
    target.add_argument("--triton", default=None, metavar="HOST:PORT",
                        help="skip the gateway: call Triton's gRPC endpoint directly")
    generate.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
                          metavar="S", help=f"seconds to wait for the answer "
                                            f"(default: {DEFAULT_TIMEOUT_S:g})")
    generate.set_defaults(handler=run_generate)


def resolve_t(args: argparse.Namespace) -> list[float]:
    """The five per-component blend factors, in `COMPONENTS` order."""
    values = [getattr(args, f"t_{component}") for component in COMPONENTS]
    return [args.t if value is None else value for value in values]


def read_sketch(path: Path) -> bytes:
    """The sketch file's bytes, or a UserError naming what is wrong with the path."""
    if not path.exists():
        raise UserError(f"sketch file {path} does not exist")
    if not path.is_file():
        raise UserError(f"sketch {path} is not a file")
    return path.read_bytes()


def resolve_look(args: argparse.Namespace) -> ChosenLook:
    """The look the options ask for, by the gateway's rules; a UserError naming the option
    (`--hair: 'red' is not a colour; use #rrggbb`)."""
    try:
        return pick_look(args.look, read_seed(args.seed),
                         {field: args_colour(args, field) for field in LOOK_FIELDS})
    except LookError as error:
        raise UserError(f"--{error}") from None


def args_colour(args: argparse.Namespace, field: str) -> str | None:
    """A colour option as `#rrggbb` (None when not given); LookError when it is no colour."""
    value = getattr(args, field, None)
    return None if value is None else to_hex(parse_hex(value, field))


def describe_look(look: dict) -> str:
    """`look: sunset (hair #a83e2c, skin ...)`, `look: random seed=7 (...)`."""
    name = look.get("name") or "?"
    if look.get("seed") is not None:
        name += f" seed={look['seed']}"
    colours = ", ".join(f"{field} {look[field]}" for field in LOOK_FIELDS if field in look)
    return f"look: {name} ({colours})"


def run_generate(args: argparse.Namespace) -> int:
    chosen = resolve_look(args)
    sketch_bytes = read_sketch(args.sketch)
    t_values = resolve_t(args)
    if args.triton:
        images = triton_generate(args.triton, sketch_bytes, t_values, args.timeout,
                                 look=chosen)
    else:
        images = gateway_generate(args.server, sketch_bytes, t_values,
                                  want_refined=args.refined is not None, timeout_s=args.timeout,
                                  look=look_form(chosen, args))
    write_file(args.output, images.face_png)
    print(f"{args.output}: face written")
    print(describe_look(images.look or chosen.as_dict()))
    if args.refined is not None:
        if images.refined_png is None:
            raise UserError("the server sent no refined sketch")
        write_file(args.refined, images.refined_png)
        print(f"{args.refined}: refined sketch written")
    return 0


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# -- through the gateway ---------------------------------------------------------------------
def look_form(chosen: ChosenLook, args: argparse.Namespace) -> dict[str, str]:
    """The look's form fields: its name, its seed (a picked one too, so that the gateway
    paints the look printed here) and the colours given as options."""
    form = {"look": chosen.name}
    if chosen.seed is not None:
        form["seed"] = str(chosen.seed)
    form.update({field: args_colour(args, field) for field in LOOK_FIELDS
                 if getattr(args, field, None) is not None})
    return form


def faces_form(t_values: list[float], want_refined: bool,
               look: dict[str, str] | None = None) -> dict[str, str]:
    """The form fields of a `POST /v1/faces`: one t per component, what else to return, the
    look's fields."""
    form = {f"t_{component}": f"{value:g}" for component, value in zip(COMPONENTS, t_values)}
    if want_refined:
        form["include"] = "refined"
    form.update(look or {})
    return form


def gateway_generate(server: str, sketch_bytes: bytes, t_values: list[float], *,
                     want_refined: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S,
                     filename: str = "sketch",
                     look: dict[str, str] | None = None) -> GeneratedImages:
    """POST the sketch to the gateway; the face (and refined sketch) PNGs it answers with."""
    import httpx

    from sketch2idol.core.data.imageload import sniff_format

    server = server.rstrip("/")
    mime = CONTENT_TYPES.get(sniff_format(sketch_bytes) or "", "application/octet-stream")
    try:
        with httpx.Client(timeout=timeout_s, trust_env=not is_loopback(server)) as client:
            response = client.post(f"{server}{FACES_ROUTE}",
                                   files={"sketch": (filename, sketch_bytes, mime)},
                                   data=faces_form(t_values, want_refined, look),
                                   headers={"Accept": "application/json"})
    except httpx.ConnectError as error:
        reason = "connection refused" if "refused" in str(error).lower() else str(error)
        raise UserError(f"cannot reach the gateway at {server}: {reason} — is `make demo` "
                        "running?") from None
    except httpx.TimeoutException:
        raise UserError(f"the gateway at {server} did not answer within {timeout_s:g} s") \
            from None
    except httpx.HTTPError as error:
        raise UserError(f"request to the gateway at {server} failed: {error}") from None
    if response.status_code != 200:
        raise UserError(gateway_failure(server, response))
    return images_from_json(server, response)


def is_loopback(url: str) -> bool:
    """Whether the URL points at this machine (then proxy settings must not apply)."""
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def error_detail(response) -> str:
    """The `detail` of a gateway error body, else the first line of whatever it sent."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and (body.get("detail") or body.get("error")):
        return str(body.get("detail") or body.get("error"))
    text = response.text.strip().splitlines()
    return text[0] if text else "no detail given"


def gateway_failure(server: str, response) -> str:
    """One line for a non-200 answer of the gateway."""
    code, detail = response.status_code, error_detail(response)
    if code == 503:
        retry = response.headers.get("Retry-After")
        hint = f"; retry in {retry} s" if retry else ""
        return f"the gateway at {server} cannot serve right now (HTTP 503): {detail}{hint}"
    if 400 <= code < 500:
        return f"the gateway refused the request (HTTP {code}): {detail}"
    return f"the gateway at {server} failed (HTTP {code}): {detail}"


def images_from_json(server: str, response) -> GeneratedImages:
    """Decode the base64 PNGs of the gateway's JSON answer."""
    try:
        body = response.json()
        refined = body.get("refined")
        look = body.get("look")
        return GeneratedImages(face_png=decode_png(body["face"]),
                               refined_png=decode_png(refined) if refined else None,
                               look=look if isinstance(look, dict) else None)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"the gateway at {server} sent an answer that is not a face "
                        f"({type(error).__name__}: {error})") from None


def decode_png(text: str) -> bytes:
    """Base64 (optionally a data: URL) -> PNG bytes; ValueError if they are not a PNG."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    data = base64.b64decode(text, validate=True)
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("the image is not a PNG")
    return data


# -- straight to Triton ----------------------------------------------------------------------
def prepare_sketch(sketch_bytes: bytes, size: int):
    """What the gateway does with an upload, with the same functions and its default
    limits: decode safely, refuse what holds no drawing, frame the drawing."""
    from sketch2idol.core.data.imageload import ImageRejected
    from sketch2idol.core.faces_request import frame_drawing, read_drawing

    try:
        drawing = read_drawing(sketch_bytes)
    except ImageRejected as error:
        raise UserError(f"the sketch cannot be used: {error.detail}") from None
    return frame_drawing(drawing, size)


def triton_address(text: str) -> str:
    """`HOST:PORT` (a `grpc://` prefix is dropped), or a UserError."""
    address = text.removeprefix("grpc://").rstrip("/")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--triton expects HOST:PORT (Triton's gRPC endpoint), got {text!r}")
    return address


def triton_generate(address: str, sketch_bytes: bytes, t_values: list[float],
                    timeout_s: float = DEFAULT_TIMEOUT_S,
                    look: ChosenLook | None = None) -> GeneratedImages:
    """Prepare the sketch here and run the `sketch2face` ensemble over gRPC, painted in
    `look` (default: the default look)."""
    import numpy as np
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    from sketch2idol.core import contract
    from sketch2idol.core.faces_request import ensemble_inputs
    from sketch2idol.gateway.uploads import png_bytes  # the gateway's encoding of its answers

    address = triton_address(address)
    look = look or pick_look(None, None, {})
    client = grpcclient.InferenceServerClient(address)
    try:
        size = served_sketch_size(client, timeout_s)
        sketch = prepare_sketch(sketch_bytes, size)[None]
        inputs = ensemble_inputs(sketch, np.asarray([t_values]), look.vector()[None],
                                 grpcclient)
        outputs = [grpcclient.InferRequestedOutput(name)
                   for name in (contract.FACE, contract.REFINED_SKETCH)]
        result = client.infer(contract.ENSEMBLE, inputs, outputs=outputs,
                              client_timeout=timeout_s)
    except InferenceServerException as error:
        raise UserError(triton_failure(address, error, timeout_s)) from None
    finally:
        client.close()
    return GeneratedImages(face_png=png_bytes(result.as_numpy(contract.FACE)[0]),
                           refined_png=png_bytes(result.as_numpy(contract.REFINED_SKETCH)[0]),
                           look=look.as_dict())


def served_sketch_size(client, timeout_s: float) -> int:
    """The sketch side the served ensemble takes (its SKETCH input is [batch, S, S])."""
    from sketch2idol.core import contract

    metadata = client.get_model_metadata(contract.ENSEMBLE, as_json=True,
                                         client_timeout=timeout_s)
    for tensor in metadata["inputs"]:
        if tensor["name"] == contract.SKETCH:
            return int(tensor["shape"][-1])
    raise UserError(f"the served {contract.ENSEMBLE} has no {contract.SKETCH} input")


def triton_failure(address: str, error, timeout_s: float) -> str:
    """One line for a tritonclient error."""
    status = str(error.status() or "")
    message = (error.message() or str(error)).splitlines()[0]
    if "UNAVAILABLE" in status:
        reason = "connection refused" if "refused" in message.lower() else message
        return (f"cannot reach Triton's gRPC endpoint at {address}: {reason} — is "
                "`make demo` or `make serve` running?")
    if "DEADLINE_EXCEEDED" in status:
        return f"Triton at {address} did not answer within {timeout_s:g} s"
    return f"Triton at {address} refused the request: {message}"
