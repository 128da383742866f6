import cv2
import numpy as np
import pytest
import torch

from sketch2idol.core.contract import FEATURE_DIM, LOOK_DIM, LOOK_FIELDS
from sketch2idol.core.geometry import COMPONENTS, SUPPORTED_SIZES, component_windows
from sketch2idol.core.models.autoencoder import define_autoencoders
from sketch2idol.core.models.components import blank_mask, composite, crop_components
from sketch2idol.core.models.discriminator import define_discriminator
from sketch2idol.core.models.generator import (
    GeneratorConfig,
    PaletteHead,
    box_filter,
    define_generator,
)
from sketch2idol.core.models.losses import line_weighted_l1, palette_loss
from sketch2idol.core.models.tensors import sketch_batch


@pytest.mark.parametrize("size", SUPPORTED_SIZES)
def test_autoencoder_shapes_follow_the_geometry(size):
    autoencoders = define_autoencoders(size).eval()
    crops = crop_components(torch.zeros(2, 1, size, size))
    for name in COMPONENTS:
        side = component_windows(size)[name].size
        assert crops[name].shape == (2, 1, side, side)
        feature = autoencoders[name].encode(crops[name])
        assert feature.shape == (2, FEATURE_DIM) and feature.dtype == torch.float32
        assert autoencoders[name].decode(feature).shape == (2, 1, side, side)


@pytest.mark.parametrize("size", SUPPORTED_SIZES)
def test_generator_and_discriminator_shapes(size):
    generator = define_generator().eval()
    look = torch.rand(1, LOOK_DIM)
    with torch.no_grad():
        face = generator(torch.zeros(1, 1, size, size), look)
        assert face.shape == (1, 3, size, size)
        assert face.abs().max() <= 1.0
        verdicts = define_discriminator()(torch.zeros(1, 1, size, size), face, look)
    assert len(verdicts) == 2 and verdicts[1][-1].shape[-1] < verdicts[0][-1].shape[-1]


def test_generator_upsamples_without_transposed_convolutions():
    # Strided ConvTranspose leaves checkerboard texture and stays fp32 under int8 export.
    generator = define_generator()
    kinds = {type(module).__name__ for module in generator.modules()}
    assert "ConvTranspose2d" not in kinds and "Upsample" in kinds


def test_look_changes_the_face_through_the_normalisations():
    # Trained FiLM projections (here: random ones) make the look reach the output, and
    # each face of a batch follows its own look.
    torch.manual_seed(0)
    generator = define_generator(GeneratorConfig(ngf=8, downsamplings=2, blocks=1)).eval()
    for module in generator.modules():
        if hasattr(module, "to_scale_shift"):
            torch.nn.init.normal_(module.to_scale_shift.weight, std=0.3)
    sketch = line_sketches(1, 64).expand(3, 1, 64, 64)
    looks = torch.stack([torch.zeros(LOOK_DIM), torch.ones(LOOK_DIM), torch.zeros(LOOK_DIM)])
    with torch.no_grad():
        faces = generator(sketch, looks)
        alone = generator(sketch[:1], looks[1:2])
    assert (faces[0] - faces[1]).abs().mean() > 0.05
    torch.testing.assert_close(faces[0], faces[2])
    torch.testing.assert_close(faces[1:2], alone, atol=1e-5, rtol=0)


def test_untrained_film_is_a_plain_instance_norm():
    # Zero-initialised projections: the look has no effect until training gives it one.
    generator = define_generator(GeneratorConfig(ngf=8, downsamplings=2, blocks=1)).eval()
    sketch = line_sketches(1, 64)
    with torch.no_grad():
        a = generator(sketch, torch.zeros(1, LOOK_DIM))
        b = generator(sketch, torch.ones(1, LOOK_DIM))
    torch.testing.assert_close(a, b)


def test_crop_then_composite_gives_the_sketch_back():
    # Composite of the exact crops (not decoded) must be the input: no seam, nothing lost.
    rng = np.random.default_rng(0)
    sketch = np.full((256, 256), 255, np.uint8)
    for _ in range(40):
        p = rng.integers(0, 256, 4)
        cv2.line(sketch, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), 0, 2)
    x = sketch_batch(sketch)
    crops = crop_components(x)
    assert (crops["remainder"][blank_mask(256).bool()] == 1.0).all()
    torch.testing.assert_close(composite(crops), x, atol=1e-5, rtol=0)


def test_line_weighting_punishes_all_white():
    target = torch.ones(1, 1, 32, 32)
    target[..., 10:12, :] = -1.0  # one line on white paper
    all_white = torch.ones_like(target)
    plain_l1 = (all_white - target).abs().mean()
    assert line_weighted_l1(all_white, target, line_weight=10.0) > 4 * plain_l1


def line_sketches(count, size, seed=0):
    rng = np.random.default_rng(seed)
    sketches = np.full((count, size, size), 255, np.uint8)
    for sketch in sketches:
        cv2.circle(sketch, (size // 2, size // 2), int(rng.integers(size // 5, size // 3)), 0, 2)
        for _ in range(6):
            p = rng.integers(0, size, 4)
            cv2.line(sketch, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), 0, 2)
    return sketch_batch(sketches)


@pytest.mark.parametrize("name", COMPONENTS)
def test_each_autoencoder_overfits_four_sketches(name):
    torch.manual_seed(0)
    autoencoder = define_autoencoders(256)[name]
    crops = crop_components(line_sketches(4, 256))[name]
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=1e-3)
    losses = []
    for _ in range(60):
        loss = line_weighted_l1(autoencoder(crops), crops)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2.5, f"{name}: {losses[0]:.3f} -> {losses[-1]:.3f}"


def test_generator_overfits_four_pairs():
    # A small configuration at 64x64 keeps this a unit test; the full one only changes widths.
    torch.manual_seed(0)
    generator = define_generator(GeneratorConfig(ngf=16, downsamplings=2, blocks=2))
    sketches = line_sketches(4, 64)
    faces = torch.tanh(torch.randn(4, 3, 1, 1)).expand(4, 3, 64, 64) * (sketches < 0) * 0.8
    looks = torch.rand(4, LOOK_DIM)
    optimizer = torch.optim.Adam(generator.parameters(), lr=2e-3)
    losses = []
    for _ in range(80):
        loss = (generator(sketches, looks) - faces).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 3, f"{losses[0]:.3f} -> {losses[-1]:.3f}"


def test_generator_learns_to_paint_the_look_it_is_given():
    # One sketch, two looks whose first colour differs: the line colour must follow the
    # look (a generator that ignored it could only paint their average).
    torch.manual_seed(0)
    generator = define_generator(GeneratorConfig(ngf=8, downsamplings=2, blocks=1))
    sketch = line_sketches(1, 32).expand(2, 1, 32, 32)
    looks = torch.full((2, LOOK_DIM), 0.5)
    looks[0, :3], looks[1, :3] = 0.0, 1.0
    ink = (sketch < 0).float()
    targets = torch.stack([ink[0] * -0.8, ink[1] * 0.8]).expand(2, 3, 32, 32)
    optimizer = torch.optim.Adam(generator.parameters(), lr=3e-3)
    for _ in range(150):
        loss = (generator(sketch, looks) - targets).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        faces = generator(sketch, looks)
    on_ink = ink.bool().expand(2, 3, 32, 32)
    assert faces[0][on_ink[0]].mean() < -0.3 and faces[1][on_ink[1]].mean() > 0.3


PALETTE_SMALL = GeneratorConfig(ngf=8, downsamplings=2, blocks=1, palette_head=True)


def test_an_untrained_palette_head_leaves_the_face_to_the_free_head():
    torch.manual_seed(0)
    plain = define_generator(GeneratorConfig(ngf=8, downsamplings=2, blocks=1)).eval()
    palette = define_generator(PALETTE_SMALL).eval()
    missing, unexpected = palette.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and all(key.startswith("palette.") for key in missing)
    sketch, look = line_sketches(1, 64), torch.rand(1, LOOK_DIM)
    with torch.no_grad():
        free, painted = plain(sketch, look), palette(sketch, look)
    difference = (free - painted).abs()
    # the gate opens sigmoid(-4) = 1.8%: at most that share of a [-1, 1] difference
    assert 0 < difference.max() <= 2 * torch.sigmoid(torch.tensor(-4.0)) + 1e-6


@pytest.mark.parametrize("field", LOOK_FIELDS)
def test_an_open_palette_paints_exactly_the_chosen_look_colour(field):
    # What FiLM alone could not: any requested hue (here a green no face was trained on)
    # reaches the pixels unchanged when the gate is open on its field at unit gain.
    generator = define_generator(PALETTE_SMALL).eval()
    index = LOOK_FIELDS.index(field)
    with torch.no_grad():
        last = generator.palette.body[-1]
        last.bias[0] = 30.0  # gate open
        last.bias[1 + index] = 30.0  # this field chosen; the gain logits stay 0 (gain 1)
    look = torch.rand(2, LOOK_DIM)
    look[0, index * 3:index * 3 + 3] = torch.tensor([72, 146, 92]) / 255.0
    with torch.no_grad():
        faces = generator(line_sketches(1, 64).expand(2, 1, 64, 64), look)
    for row in range(2):
        expected = look[row, index * 3:index * 3 + 3] * 2 - 1
        torch.testing.assert_close(faces[row], expected[:, None, None].expand(3, 64, 64),
                                   atol=1e-5, rtol=0)


def test_the_box_filter_averages_each_neighbourhood_and_keeps_borders():
    impulse = torch.zeros(1, 1, 11, 11)
    impulse[0, 0, 5, 5] = 1.0
    spread = box_filter(impulse, 5)
    assert spread.shape == impulse.shape
    torch.testing.assert_close(spread[0, 0, 3:8, 3:8], torch.full((5, 5), 1 / 25))
    assert spread.sum().item() == pytest.approx(1.0) and spread[0, 0, 2].abs().max() == 0
    constant = torch.full((1, 2, 9, 9), 3.0)  # edge-replicated borders: no dark frame
    torch.testing.assert_close(box_filter(constant, 7), constant)
    assert box_filter(impulse, 1) is impulse and box_filter(impulse, 0) is impulse


def test_palette_smoothing_blends_a_flipping_choice_and_keeps_a_confident_edge():
    """What `palette_smoothing` is for: a choice that flips between two fields pixel by
    pixel becomes an even blend; a confident region edge stays where it was."""
    flips = torch.zeros(1, 2, 16, 16)
    flips[0, 0] = (torch.arange(16)[:, None] + torch.arange(16)[None]) % 2 * 4.0 - 2.0
    flips[0, 1] = -flips[0, 0]  # field 0 and field 1 alternate, margin 4
    share = torch.softmax(box_filter(flips, 5), dim=1)[0, 0, 2:-2, 2:-2]
    assert torch.softmax(flips, dim=1)[0, 0].max() > 0.98
    assert (share - 0.5).abs().max() < 0.1
    edge = torch.zeros(1, 2, 16, 16)
    edge[0, 0, :, :8], edge[0, 1, :, 8:] = 30.0, 30.0
    chosen = box_filter(edge, 5).argmax(dim=1)[0]
    assert (chosen[:, :7] == 0).all() and (chosen[:, 9:] == 1).all()


def test_a_smoothing_palette_head_filters_only_its_colour_choice():
    torch.manual_seed(0)
    sharp, smooth = PaletteHead(8, len(LOOK_FIELDS)), PaletteHead(8, len(LOOK_FIELDS), 5)
    torch.nn.init.normal_(sharp.body[-1].weight)
    smooth.load_state_dict(sharp.state_dict())  # no parameters of its own: same weights
    features = torch.randn(2, 8, 20, 20)
    with torch.no_grad():
        (gate, fields, gain), (gate5, fields5, gain5) = sharp(features), smooth(features)
    torch.testing.assert_close(gate5, gate)  # the gate carries the drawn lines: left sharp
    torch.testing.assert_close(gain5, gain)
    torch.testing.assert_close(fields5, box_filter(fields, 5))
    assert (fields5 - fields).abs().max() > 0.1
    with pytest.raises(ValueError, match="odd"):
        GeneratorConfig(palette_head=True, palette_smoothing=4)


def palette_case(widths, gate, choices):
    """palette_loss on a 2-row strip of three regions (hair, background, an eye white no
    look colour paints) `widths` pixels wide, the gate logit and chosen field per region."""
    fields = len(LOOK_FIELDS)
    painting = [("hair",), ("background", "background2"), ()]  # either background colour
    columns = [region for region, width in enumerate(widths) for _ in range(width)]
    painted = torch.zeros(1, fields, 2, len(columns))
    classes = torch.zeros(1, 3, 2, len(columns))
    gate_logit = torch.zeros(1, 1, 2, len(columns))
    field_logits = torch.zeros(1, fields, 2, len(columns))
    for x, region in enumerate(columns):
        classes[0, region, :, x] = 1
        gate_logit[0, 0, :, x] = gate[region]
        field_logits[0, LOOK_FIELDS.index(choices[region]), :, x] = 20.0
        for name in painting[region]:
            painted[0, LOOK_FIELDS.index(name), :, x] = 1
    return palette_loss(gate_logit, field_logits, painted, classes).item()


def test_the_palette_loss_reads_the_label_map():
    widths = (2, 2, 2)
    assert palette_case(widths, [20, 20, -20], ["hair", "background2", "hair"]) < 1e-3
    for wrong in (palette_case(widths, [20, 20, -20], ["skin", "background", "hair"]),
                  palette_case(widths, [-20, 20, -20], ["hair", "background", "hair"]),
                  palette_case(widths, [20, 20, 20], ["hair", "background", "hair"])):
        assert wrong > 5.0  # a wrong colour, the gate shut on hair, or open on the eye
    # Each class counts alike whatever its area: the hair's wrong colour costs as much
    # beside a background 50 times its size as beside one of its own size.
    small = palette_case((2, 2, 2), [20, 20, -20], ["skin", "background", "hair"])
    large = palette_case((2, 100, 2), [20, 20, -20], ["skin", "background", "hair"])
    assert large == pytest.approx(small, rel=1e-4)
