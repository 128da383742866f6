"""`sketch2idol generate` against the session's real gateway and real tritonserver."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sketch2idol.cli import main
from sketch2idol.core.data.synth import render_sample
from sketch2idol.core.looks import NAMED_LOOKS, as_hex, random_look
from sketch2idol.launch.tritonserver import free_port


@pytest.fixture(scope="module")
def sketch_file(tmp_path_factory):
    """A held-out sketch drawn small and off-centre on a wide canvas, so framing matters."""
    sketch = render_sample(1, 3, 256)[2]
    canvas = np.full((300, 420), 255, np.uint8)
    canvas[30:30 + 180, 200:200 + 180] = np.asarray(Image.fromarray(sketch).resize((180, 180)))
    path = tmp_path_factory.mktemp("generate") / "drawing.png"
    Image.fromarray(canvas).save(path)
    return path


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_through_the_gateway_writes_the_face_and_the_refined_sketch(gateway_url, sketch_file,
                                                                   tmp_path):
    face, refined = tmp_path / "out" / "face.png", tmp_path / "refined.png"
    assert main(["generate", str(sketch_file), "-o", str(face), "--refined", str(refined),
                 "--server", gateway_url]) == 0
    with Image.open(face) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (256, 256))
    with Image.open(refined) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "L", (256, 256))
    assert pixels(refined).min() < 128 < pixels(refined).max()  # strokes on paper


def test_straight_to_triton_gives_the_gateways_pixels(gateway_url, triton_server, sketch_file,
                                                     tmp_path):
    blend = ["--t", "0.3", "--t-nose", "0.9", "--t-remainder", "1"]
    for name, target in (("gateway", ["--server", gateway_url]),
                         ("triton", ["--triton", triton_server.grpc_address])):
        assert main(["generate", str(sketch_file), "-o", str(tmp_path / f"{name}.png"),
                     "--refined", str(tmp_path / f"{name}_refined.png"), *blend, *target]) == 0
    np.testing.assert_array_equal(pixels(tmp_path / "triton.png"),
                                  pixels(tmp_path / "gateway.png"))
    np.testing.assert_array_equal(pixels(tmp_path / "triton_refined.png"),
                                  pixels(tmp_path / "gateway_refined.png"))


def look_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("look: ")]
    assert len(lines) == 1, lines
    return lines[0]


def test_the_look_reaches_both_paths_and_is_printed(gateway_url, triton_server, sketch_file,
                                                    tmp_path, capsys):
    look = ["--look", "random", "--seed", "11", "--hair", "FF0000", "--background", "#102030"]
    expected = {**as_hex(random_look(11)), "hair": "#ff0000", "background": "#102030",
                "background2": "#102030"}
    colours = ", ".join(f"{field} {value}" for field, value in expected.items())
    for name, target in (("gateway", ["--server", gateway_url]),
                         ("triton", ["--triton", triton_server.grpc_address])):
        assert main(["generate", str(sketch_file), "-o", str(tmp_path / f"{name}.png"), *look,
                     *target]) == 0
        assert look_line(capsys) == f"look: random seed=11 ({colours})", name
    np.testing.assert_array_equal(pixels(tmp_path / "triton.png"),
                                  pixels(tmp_path / "gateway.png"))


def test_a_picked_seed_is_printed_and_replays(gateway_url, sketch_file, tmp_path, capsys):
    assert main(["generate", str(sketch_file), "-o", str(tmp_path / "picked.png"),
                 "--look", "random", "--server", gateway_url]) == 0
    line = look_line(capsys)
    seed = int(line.split("seed=")[1].split(" ")[0])
    assert main(["generate", str(sketch_file), "-o", str(tmp_path / "replay.png"),
                 "--seed", str(seed), "--server", gateway_url]) == 0
    assert look_line(capsys) == line
    np.testing.assert_array_equal(pixels(tmp_path / "picked.png"),
                                  pixels(tmp_path / "replay.png"))
    assert main(["generate", str(sketch_file), "-o", str(tmp_path / "named.png"),
                 "--look", "pastel", "--server", gateway_url]) == 0
    assert look_line(capsys) == "look: pastel (" + ", ".join(
        f"{field} {value}" for field, value in NAMED_LOOKS["pastel"].items()) + ")"


def test_the_blend_reaches_the_model(gateway_url, sketch_file, tmp_path):
    for t in ("0", "1"):
        assert main(["generate", str(sketch_file), "-o", str(tmp_path / f"{t}.png"),
                     "--t", t, "--server", gateway_url]) == 0
    assert not np.array_equal(pixels(tmp_path / "0.png"), pixels(tmp_path / "1.png"))


def test_an_unreachable_gateway_is_one_line_naming_the_url(sketch_file, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "sketch2idol", "generate", str(sketch_file),
                           "-o", str(tmp_path / "face.png"), "--server", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"sketch2idol: error: cannot reach the gateway at {url}: "
                                   "connection refused — is `make demo` running?")
    assert not (tmp_path / "face.png").exists()


def test_an_unreachable_triton_is_one_line(sketch_file, tmp_path, capsys):
    address = f"127.0.0.1:{free_port()}"
    assert main(["generate", str(sketch_file), "-o", str(tmp_path / "face.png"),
                 "--triton", address]) == 2
    assert f"cannot reach Triton's gRPC endpoint at {address}: connection refused" in \
        one_line_error(capsys)


def test_a_missing_sketch_file_exits_2(tmp_path):
    missing = tmp_path / "nowhere.png"
    done = subprocess.run([sys.executable, "-m", "sketch2idol", "generate", str(missing),
                           "-o", str(tmp_path / "face.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"sketch2idol: error: sketch file {missing} does not exist"


def test_the_gateways_refusal_detail_is_printed(gateway_url, tmp_path, capsys):
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("a face, roughly\n")
    assert main(["generate", str(not_an_image), "-o", str(tmp_path / "face.png"),
                 "--server", gateway_url]) == 2
    error = one_line_error(capsys)
    assert "the gateway refused the request (HTTP 415)" in error
    assert "not a recognised image format" in error  # the gateway's detail


@pytest.mark.parametrize("t", ["1.5", "-0.1", "nan", "half"])
def test_a_bad_t_is_refused_before_anything_is_sent(sketch_file, tmp_path, t, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", str(sketch_file), "-o", str(tmp_path / "face.png"),
              "--t-mouth", t, "--server", f"http://127.0.0.1:{free_port()}"])
    assert exit_info.value.code == 2
    assert "argument --t-mouth: expected a number from 0 to 1" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "image"), [
    ("blank", np.full((200, 200), 255, np.uint8)),  # no stroke at all
    ("tiny", np.zeros((8, 12), np.uint8)),  # ink, but no room for a face
])
def test_both_paths_refuse_the_same_drawings_with_the_same_sentence(
        gateway_url, triton_server, tmp_path, capsys, name, image):
    drawing = tmp_path / f"{name}.png"
    Image.fromarray(image).save(drawing)
    errors = {}
    for path, target in (("gateway", ["--server", gateway_url]),
                         ("triton", ["--triton", triton_server.grpc_address])):
        assert main(["generate", str(drawing), "-o", str(tmp_path / f"{path}.png"),
                     *target]) == 2
        errors[path] = one_line_error(capsys)
        assert not (tmp_path / f"{path}.png").exists()
    said = "the gateway refused the request (HTTP 422): "
    assert said in errors["gateway"], errors
    detail = errors["gateway"].split(said, 1)[1]
    assert errors["triton"] == f"sketch2idol: error: the sketch cannot be used: {detail}"
