import cv2
import numpy as np
import pytest
import torch

from sketch2idol.core.contract import FEATURE_DIM, LOOK_DIM
from sketch2idol.core.geometry import COMPONENTS, SUPPORTED_SIZES, component_windows
from sketch2idol.core.models.autoencoder import define_autoencoders
from sketch2idol.core.models.components import blank_mask, composite, crop_components
from sketch2idol.core.models.discriminator import define_discriminator
from sketch2idol.core.models.generator import GeneratorConfig, define_generator
from sketch2idol.core.models.losses import line_weighted_l1
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
