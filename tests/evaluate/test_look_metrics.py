"""Look metrics: colour adherence, hair IoU and texture, on pictures with known answers."""

import numpy as np

from sketch2idol.core.data.faces import render_face, sample_face_params
from sketch2idol.core.data.faces.labels import Label
from sketch2idol.core.evaluate import look_metrics
from sketch2idol.core.evaluate.run import look_scores, requested_colour
from sketch2idol.core.looks import look_from_params, look_vector


def face_and_labels(seed=5):
    params = sample_face_params(np.random.default_rng(seed))
    face = render_face(params, 256)
    return params, face.photo, face.labels


def test_colour_error_is_the_distance_of_the_region_mean():
    image = np.zeros((64, 64, 3), np.uint8)
    image[10:40, 10:40] = (100, 50, 20)
    region = np.zeros((64, 64), bool)
    region[10:40, 10:40] = True
    assert look_metrics.colour_error(image, region, (100, 50, 20)) == 0.0
    assert np.isclose(look_metrics.colour_error(image, region, (103, 54, 20)), 5.0)
    tiny = np.zeros((64, 64), bool)
    tiny[0, 0] = True
    assert look_metrics.colour_error(image, tiny, (0, 0, 0)) is None


def test_a_checkerboard_raises_high_frequency_energy_and_a_blur_lowers_it():
    _, photo, labels = face_and_labels()
    flat = np.isin(labels, [int(Label.FACE_SKIN), int(Label.BACKGROUND)])
    base = look_metrics.high_frequency_energy(photo, flat)
    checker = photo.astype(np.int16)
    checker[::2, ::2] += 12
    checker = np.clip(checker, 0, 255).astype(np.uint8)
    assert look_metrics.high_frequency_energy(checker, flat) > 2 * base
    import cv2
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    assert look_metrics.high_frequency_energy(blurred, flat) < base


def test_the_ground_truth_scores_as_its_own_reference():
    params, photo, labels = face_and_labels()
    scores = look_scores(photo, photo, look_vector(look_from_params(params)), labels)
    assert np.isclose(scores["texture_ratio"], 1.0)
    assert all(scores[f"truth_colour_{f}"] in (None, 0.0)
               for f in ("hair", "skin", "eyes", "lips", "clothes", "background"))
    assert scores["hair_iou"] > 0.7  # the rendered hair is nearest its own colour
    assert scores["colour_clothes"] < 40 and scores["colour_skin"] < 40


def test_a_face_in_the_wrong_colours_is_caught():
    params, photo, labels = face_and_labels()
    look = look_vector(look_from_params(params))
    recoloured = photo.copy()
    recoloured[labels == int(Label.HAIR)] = 255 - np.asarray(look_from_params(params)["hair"])
    right = look_scores(photo, photo, look, labels)
    wrong = look_scores(recoloured, photo, look, labels)
    assert wrong["colour_hair"] > right["colour_hair"] + 60
    assert wrong["hair_iou"] < right["hair_iou"]


def test_a_gradient_background_asks_for_the_mean_of_its_colours():
    look = {"background": (0, 0, 0), "background2": (200, 100, 50)}
    assert np.allclose(requested_colour(look, "background"), (100, 50, 25))


def test_worst_named_colours_name_the_palette_entry_with_the_largest_mean_error():
    from sketch2idol.core.data.faces import palette
    from sketch2idol.core.evaluate.heldout import HeldOut
    from sketch2idol.core.evaluate.run import worst_colours

    iris = {name: rgb for name, rgb, _ in palette.IRIS}
    faces = []  # (renderer parameters, iris colour error, hair colour error)
    for seed, (name, nudge, iris_error, hair_error) in enumerate(
            [("green", (9, -11, 7), 40.0, 5.0), ("green", (-10, 4, 0), 20.0, 5.0),
             ("brown", (3, 3, -12), 35.0, 50.0), ("violet", (0, 0, 0), 10.0, 1.0)]):
        params = sample_face_params(np.random.default_rng(seed))
        params["eyes"]["iris_color"] = list(np.add(iris[name], nudge).astype(float))
        faces.append((params, iris_error, hair_error))
    heldout = HeldOut(ids=[f"{i:06d}" for i in range(len(faces))], sketches=None,
                      photos=None, params=[p for p, _, _ in faces], casual=None, labels=None,
                      looks=np.stack([look_vector(look_from_params(p)) for p, _, _ in faces]))
    per_face = [{"colour_eyes": e, "colour_hair": h} for _, e, h in faces]
    worst = worst_colours(per_face, heldout)
    # green averages 30, brown's single face 35: brown is the worst named iris colour
    assert worst["eyes_by_name"] == {"name": "brown", "mean_error": 35.0, "faces": 1}
    assert worst["eyes"]["id"] == "000000" and worst["eyes"]["error"] == 40.0
    hair_name = faces[2][0]["hair"]["color_name"]
    assert worst["hair_by_name"]["name"] == hair_name
    assert "lips_by_name" not in worst
