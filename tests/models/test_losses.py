import torch

from sketch2idol.core.models.losses import detail_l1, region_colour_l1


def two_regions(size=32, small=4):
    """Masks [1, 2, S, S]: a big region (everything but a corner) and a small corner."""
    masks = torch.zeros(1, 2, size, size)
    masks[0, 1, :small, :small] = 1
    masks[0, 0] = 1 - masks[0, 1]
    return masks


def test_region_colour_l1_compares_region_means_and_weighs_regions_alike():
    masks = two_regions()
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    assert region_colour_l1(target, target, masks) == 0
    # Noise that keeps each region's mean costs nothing: only colour, not pixels, counts.
    noise = torch.randn_like(target)
    for r in range(2):
        inside = masks[0, r].bool()
        for c in range(3):
            noise[0, c][inside] -= noise[0, c][inside].mean()
    assert region_colour_l1(target + noise, target, masks) < 1e-5
    shifted_small = target + 0.3 * masks[:, 1:2]  # 16 of 1,024 pixels change colour
    shifted_big = target + 0.3 * masks[:, 0:1]
    small_cost = region_colour_l1(shifted_small, target, masks)
    assert torch.isclose(small_cost, region_colour_l1(shifted_big, target, masks))
    assert torch.isclose(small_cost, torch.tensor(0.3 / 2))  # one region of two is off by 0.3
    # A plain L1 would barely notice the small region.
    assert (shifted_small - target).abs().mean() < small_cost / 20


def test_region_colour_l1_skips_regions_too_small_to_measure():
    masks = two_regions(small=1)  # a single pixel
    target = torch.zeros(1, 3, 32, 32)
    assert region_colour_l1(target + masks[:, 1:2], target, masks) == 0


def test_detail_l1_punishes_a_checkerboard_only_inside_the_flat_region():
    smooth = torch.linspace(-1, 1, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32)
    checker = (torch.arange(32).view(32, 1) + torch.arange(32).view(1, 32)) % 2 * 0.2 - 0.1
    flat = torch.zeros(1, 1, 32, 32)
    flat[..., :16] = 1
    assert detail_l1(smooth, smooth, flat) == 0
    noisy_inside = smooth + checker * flat
    noisy_outside = smooth + checker * (1 - flat)
    assert detail_l1(noisy_inside, smooth, flat) > 0.05
    assert detail_l1(noisy_outside, smooth, flat) < 0.01  # only its edge column leaks
    assert detail_l1(smooth + 0.2, smooth, flat) < 1e-6  # a colour shift is not detail


def test_paintable_leaves_the_pupil_to_the_free_head_and_keeps_the_iris_and_skin():
    """On a real render: the iris class covers iris and pupil, but only the iris is its look
    colour times a gain; the face's skin is its colour with soft shading and stays."""
    import numpy as np

    from sketch2idol.core.contract import LOOK_FIELDS
    from sketch2idol.core.data.faces import render_face, sample_face_params
    from sketch2idol.core.data.faces.labels import PAINTED_REGIONS, Label
    from sketch2idol.core.looks import look_from_params, look_vector
    from sketch2idol.core.models.losses import paintable

    params = sample_face_params(np.random.default_rng(5))
    face = render_face(params, 256)
    photo = torch.from_numpy(face.photo).permute(2, 0, 1)[None].float() / 255
    look = torch.from_numpy(look_vector(look_from_params(params)))[None].float()
    labels = torch.from_numpy(face.labels).long()
    painted = torch.stack([torch.isin(labels, torch.tensor([int(c) for c in PAINTED_REGIONS[f]]))
                           for f in LOOK_FIELDS])[None].float()
    kept = paintable(photo, look, painted).amax(dim=1)[0].bool()
    assert not kept[labels == int(Label.EYE_WHITE)].any()  # never painted: stays so
    iris = labels == int(Label.IRIS)
    iris_colour = torch.tensor(params["eyes"]["iris_color"], dtype=torch.float32) / 255
    brightness = photo[0].permute(1, 2, 0)[iris].sum(dim=1) / iris_colour.sum()
    pupil, ring = brightness < 0.35, brightness > 0.8
    assert pupil.sum() >= 10 and ring.sum() >= 10
    assert kept[iris][pupil].float().mean() < 0.2  # the pupil: iris colour x 0.28
    assert kept[iris][ring].float().mean() > 0.85
    assert kept[labels == int(Label.FACE_SKIN)].float().mean() > 0.95
    assert kept[labels == int(Label.BACKGROUND)].float().mean() > 0.99
