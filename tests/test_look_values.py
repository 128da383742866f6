"""Looks: parsing, named and random looks, the APPEARANCE vector and its checks."""

import numpy as np
import pytest

from sketch2idol.core.contract import LOOK_DIM, LOOK_FIELDS
from sketch2idol.core.data.faces import sample_face_params
from sketch2idol.core.looks import (
    NAMED_LOOKS,
    LookError,
    as_hex,
    check_appearance,
    look_from_params,
    look_from_vector,
    look_vector,
    parse_hex,
    random_look,
    resolve_look,
)


def test_hex_colours_parse_and_bad_ones_name_the_field():
    assert parse_hex("#FFcc00") == (255, 204, 0) and parse_hex("0a0b0c") == (10, 11, 12)
    for bad in ("#fff", "red", "#gggggg", "", "#1234567"):
        with pytest.raises(LookError) as error:
            parse_hex(bad, "hair")
        assert error.value.field == "hair" and "hair" in str(error.value)


def test_every_named_look_is_complete_and_distinct():
    vectors = {name: look_vector(resolve_look(name)) for name in NAMED_LOOKS}
    assert all(v.shape == (LOOK_DIM,) and check_appearance(v) is None for v in vectors.values())
    names = list(vectors)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(vectors[a] - vectors[b]).max() > 0.1, (a, b)


def test_overrides_go_on_top_and_a_lone_background_is_flat():
    look = resolve_look("sunset", {"hair": "#102030", "background": "#ffffff"})
    sunset = resolve_look("sunset")
    assert look["hair"] == (16, 32, 48) and look["skin"] == sunset["skin"]
    assert look["background"] == look["background2"] == (255, 255, 255)
    both = resolve_look(None, {"background": "#ffffff", "background2": "#000000"})
    assert both["background2"] == (0, 0, 0)


def test_unknown_look_field_and_seed_are_refused_by_name():
    with pytest.raises(LookError) as error:
        resolve_look("nope")
    assert error.value.field == "look" and "idol" in str(error.value)
    with pytest.raises(LookError) as error:
        resolve_look(None, {"hat": "#000000"})
    assert error.value.field == "hat"
    with pytest.raises(LookError) as error:
        resolve_look("random", seed=-1)
    assert error.value.field == "seed"


def test_random_looks_follow_the_seed():
    assert random_look(7) == random_look(7)
    assert random_look(7) != random_look(8)


def test_params_give_the_renderers_colours_and_flat_backgrounds_repeat_the_first():
    for seed in range(30):
        params = sample_face_params(np.random.default_rng(seed))
        look = look_from_params(params)
        assert np.allclose(look["hair"], params["hair"]["color"], atol=0.5)
        assert np.allclose(look["eyes"], params["eyes"]["iris_color"], atol=0.5)
        first, second = params["background"]["colors"]
        expected = first if params["background"]["kind"] == "flat" else second
        assert np.allclose(look["background2"], expected, atol=0.5)


def test_vector_round_trip_and_layout():
    look = resolve_look("ocean")
    vector = look_vector(look)
    assert look_from_vector(vector) == look
    hair = LOOK_FIELDS.index("hair") * 3
    assert np.allclose(vector[hair:hair + 3] * 255, look["hair"])
    assert as_hex(look)["hair"] == "#486aba"


@pytest.mark.parametrize("vector,reason", [
    (np.zeros(LOOK_DIM - 1), "21 values"),
    (np.full(LOOK_DIM, np.nan), "NaN"),
    (np.full(LOOK_DIM, 1.5), "[0.0, 1.0]"),
    (np.full(LOOK_DIM, -0.1), "[0.0, 1.0]"),
])
def test_bad_appearance_rows_are_explained(vector, reason):
    assert reason in check_appearance(vector)
