import dataclasses
import json

import numpy as np
import pytest
import torch

from sketch2idol.core.data.synth import synthesize
from sketch2idol.core.models.discriminator import DiscriminatorConfig
from sketch2idol.core.models.generator import GeneratorConfig
from sketch2idol.core.train.checkpoint import CHECKPOINT_NAME
from sketch2idol.core.train.config import Stage1Config, Stage2Config
from sketch2idol.core.train.loop import run_training
from sketch2idol.core.train.stage1 import Stage1Trainer
from sketch2idol.core.train.stage2 import Stage2Trainer

DEVICE = torch.device("cpu")


@pytest.fixture(scope="module")
def face_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    synthesize(root, count=6, seed=21, workers=1, progress=False)
    return root


def train(trainer_cls, config, run_dir, resume=False):
    torch.manual_seed(config.seed)
    return run_training(trainer_cls(config, DEVICE), run_dir, resume=resume, progress=False)


def weights(run_dir):
    return torch.load(run_dir / CHECKPOINT_NAME, weights_only=False)["nets"]


def assert_same_weights(a, b):
    for net in a:
        for name, tensor in a[net].items():
            assert torch.equal(tensor, b[net][name]), f"{net}.{name} differs"


def losses(run_dir):
    return [json.loads(line) for line in (run_dir / "losses.jsonl").read_text().splitlines()]


def stage1_config(face_set, steps):
    return Stage1Config(data=str(face_set), steps=steps, batch_size=2, sample_every=100,
                        checkpoint_every=100, loader_workers=0)


def stage2_config(face_set, stage1, steps):
    """A small stage-2 run on `face_set`, refining through the stage-1 run `stage1`."""
    return Stage2Config(data=str(face_set), stage1=str(stage1), steps=steps, batch_size=2,
                        sample_every=100, checkpoint_every=100, loader_workers=0,
                        generator=GeneratorConfig(ngf=8, downsamplings=2, blocks=1),
                        discriminator=DiscriminatorConfig(ndf=8))


def test_stage1_resume_gives_the_same_next_step(face_set, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(Stage1Trainer, stage1_config(face_set, 4), straight)
    train(Stage1Trainer, stage1_config(face_set, 3), split)  # crosses an epoch boundary
    train(Stage1Trainer, stage1_config(face_set, 4), split, resume=True)
    assert_same_weights(weights(straight), weights(split))
    assert losses(straight) == losses(split)
    assert (split / "bank.npz").exists() and (split / "losses.png").exists()
    assert (split / "samples_000004.png").exists()
    config = json.loads((split / "config.json").read_text())
    assert config["changed"]["steps"] == 4 and config["changed"]["batch_size"] == 2


def test_stage2_resume_gives_the_same_next_step(face_set, tmp_path):
    stage1 = tmp_path / "stage1"
    train(Stage1Trainer, stage1_config(face_set, 1), stage1)
    config = stage2_config(face_set, stage1, 3)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(Stage2Trainer, config, straight)
    train(Stage2Trainer, dataclasses.replace(config, steps=2), split)
    train(Stage2Trainer, config, split, resume=True)
    assert_same_weights(weights(straight), weights(split))
    assert losses(straight) == losses(split)
    assert len(list((stage1 / "refined").glob("t*/*.png"))) == 6 * len(config.t_values)
    casual = stage1 / "refined" / "casual"
    assert len(list(casual.glob("t*/*.png"))) == 6 * len(config.t_values)


def test_an_existing_run_is_not_overwritten(face_set, tmp_path):
    from sketch2idol.core.errors import UserError

    train(Stage1Trainer, stage1_config(face_set, 1), tmp_path)
    with pytest.raises(UserError, match="--resume"):
        train(Stage1Trainer, stage1_config(face_set, 2), tmp_path)


def test_stage1_learns_from_casual_drawings_towards_the_detailed_sketch(face_set):
    from sketch2idol.core.data import dataset
    from sketch2idol.core.data.augment import Stage1Augment
    from sketch2idol.core.train.stage1 import DrawingPairs

    pairs = DrawingPairs(face_set, Stage1Augment(), seed=0, casual_prob=0.5)
    samples = [pairs[(epoch, i)] for epoch in range(4) for i in range(len(pairs))]
    kinds = [bool(s["from_casual"]) for s in samples]
    assert any(kinds) and not all(kinds)
    for sample in samples:  # the target is always the clean detailed sketch
        detailed = dataset.read_grey(dataset.sketch_path(face_set, sample["id"]))
        assert (sample["clean_sketch"][0].numpy() == detailed).all()
    again = pairs[(1, 2)]
    assert bool(again["from_casual"]) == kinds[len(pairs) + 2]
    assert torch.equal(again["sketch"], samples[len(pairs) + 2]["sketch"])
    only_detailed = DrawingPairs(face_set, None, seed=0, casual_prob=0.0)[(0, 0)]
    assert not bool(only_detailed["from_casual"])
    assert torch.equal(only_detailed["sketch"], only_detailed["clean_sketch"])


def test_init_from_starts_a_new_run_from_another_runs_weights(face_set, tmp_path):
    from sketch2idol.core.errors import UserError

    source, tuned = tmp_path / "source", tmp_path / "tuned"
    train(Stage1Trainer, stage1_config(face_set, 2), source)
    frozen = dataclasses.replace(stage1_config(face_set, 1), lr=0.0, init_from=str(source))
    train(Stage1Trainer, frozen, tuned)
    learned = {net: {name: tensor for name, tensor in state.items()
                     if "running_" not in name and "num_batches" not in name}
               for net, state in weights(source).items()}  # batch norm statistics move
    assert_same_weights(learned, weights(tuned))  # lr 0: no weight moved from there
    assert [row["step"] for row in losses(tuned)] == [1]  # a new run: its own step count
    fresh = tmp_path / "fresh"
    train(Stage1Trainer, dataclasses.replace(frozen, init_from=None), fresh)
    with pytest.raises(AssertionError):
        assert_same_weights(learned, weights(fresh))
    stage2 = Stage2Config(data=str(face_set), stage1=str(source), steps=1, batch_size=2,
                          loader_workers=0, init_from=str(source),
                          generator=GeneratorConfig(ngf=8, downsamplings=2, blocks=1),
                          discriminator=DiscriminatorConfig(ndf=8))
    with pytest.raises(UserError, match="holds no net 'G'"):
        train(Stage2Trainer, stage2, tmp_path / "wrong-stage")


def test_stage2_learns_from_refined_casual_drawings_too(face_set, tmp_path):
    from sketch2idol.core.data import dataset
    from sketch2idol.core.train.refined import RefinedPairs, build_refined_cache, refined_path

    stage1 = tmp_path / "stage1"
    train(Stage1Trainer, stage1_config(face_set, 1), stage1)
    written = build_refined_cache(stage1, face_set, (0.5,), DEVICE,
                                  sources=("sketch", "casual"), progress=False)
    assert written == 2 * 6
    pairs = RefinedPairs(face_set, stage1, (0.5,), None, seed=0, casual_prob=0.5, labels=True)
    samples = [pairs[(epoch, i)] for epoch in range(3) for i in range(len(pairs))]
    casual_seen = 0
    for sample in samples:
        casual = dataset.read_grey(dataset.casual_path(face_set, sample["id"]))
        from_casual = (sample["drawing"][0].numpy() == casual).all()
        casual_seen += from_casual
        source = "casual" if from_casual else "sketch"
        refined = dataset.read_grey(refined_path(stage1, 0.5, sample["id"], source))
        assert (sample["refined"][0].numpy() == refined).all()
        assert sample["labels"].shape == sample["drawing"].shape
    assert 0 < casual_seen < len(samples)


def test_a_student_learns_only_its_encoders_towards_the_teachers_features(face_set, tmp_path):
    from sketch2idol.core.errors import UserError

    teacher = tmp_path / "teacher"
    train(Stage1Trainer, stage1_config(face_set, 2), teacher)
    config = dataclasses.replace(stage1_config(face_set, 2), teacher=str(teacher),
                                 casual_prob=0.5)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(Stage1Trainer, config, straight)
    train(Stage1Trainer, dataclasses.replace(config, steps=1), split)
    train(Stage1Trainer, config, split, resume=True)  # the teacher is re-read, not saved
    assert_same_weights(weights(straight), weights(split))
    taught, learned = weights(teacher)["autoencoders"], weights(straight)["autoencoders"]
    decoders = [name for name in taught if ".decoder" in name]
    encoders = [name for name in taught if ".encoder" in name and name.endswith("weight")]
    assert decoders and all(torch.equal(taught[n], learned[n]) for n in decoders)
    assert any(not torch.equal(taught[n], learned[n]) for n in encoders)
    assert set(losses(straight)[0]) == {"step", "total", "left_eye", "right_eye", "nose",
                                        "mouth", "remainder"}
    with pytest.raises(UserError, match="no stage-1 checkpoint"):
        train(Stage1Trainer, dataclasses.replace(config, teacher=str(tmp_path / "none")),
              tmp_path / "orphan")


def test_taught_components_train_only_those_encoders(face_set, tmp_path):
    """`--taught-components`: the encoders named learn, the other components' encoders (and
    every decoder) stay the teacher's; without a teacher it is refused."""
    from sketch2idol.core.errors import UserError

    teacher = tmp_path / "teacher"
    train(Stage1Trainer, stage1_config(face_set, 2), teacher)
    config = dataclasses.replace(stage1_config(face_set, 2), teacher=str(teacher),
                                 casual_prob=0.5, taught_components=("nose", "remainder"))
    train(Stage1Trainer, config, tmp_path / "parts")
    taught, learned = weights(teacher)["autoencoders"], weights(tmp_path / "parts")["autoencoders"]
    changed = {name.split(".")[0] for name in taught
               if not torch.equal(taught[name], learned[name])}
    assert changed == {"nose", "remainder"}
    assert all(".encoder" in name for name in taught
               if not torch.equal(taught[name], learned[name]))
    with pytest.raises(UserError, match="add --teacher"):
        train(Stage1Trainer, dataclasses.replace(stage1_config(face_set, 2),
                                                 taught_components=("nose",)),
              tmp_path / "orphan")


def test_the_anchor_holds_detailed_sketches_at_the_teachers_features(face_set, tmp_path):
    from sketch2idol.core.data import dataset
    from sketch2idol.core.models.components import crop_components
    from sketch2idol.core.models.tensors import to_unit
    from sketch2idol.core.train.stage1 import load_autoencoders

    teacher = tmp_path / "teacher"
    train(Stage1Trainer, stage1_config(face_set, 2), teacher)
    students = {}
    for weight in (0.0, 10.0):
        config = dataclasses.replace(stage1_config(face_set, 30), teacher=str(teacher),
                                     casual_prob=1.0, anchor_weight=weight, lr=1e-3)
        students[weight] = tmp_path / f"anchor{weight:g}"
        train(Stage1Trainer, config, students[weight])
    components = ["left_eye", "right_eye", "nose", "mouth", "remainder"]
    assert set(losses(students[10.0])[0]) == {"step", "total", *components,
                                              *(f"{name}_anchor" for name in components)}
    assert set(losses(students[0.0])[0]) == {"step", "total", *components}
    # A student starts as its teacher (weights and batch-norm statistics): before the first
    # update its features of the clean sketches are the teacher's exactly.
    assert all(losses(students[10.0])[0][f"{name}_anchor"] == 0.0 for name in components)

    ids = [row["id"] for row in dataset.read_manifest(face_set)]
    sketches = torch.from_numpy(np.stack([dataset.read_grey(
        dataset.sample_path(face_set, "sketch", i)) for i in ids]))[:, None]
    crops = crop_components(to_unit(sketches))

    def drift(run_dir):
        """Squared distance of the run's clean-sketch features from the teacher's."""
        taught, learned = load_autoencoders(teacher, DEVICE), load_autoencoders(run_dir, DEVICE)
        with torch.no_grad():
            return sum(float(((learned[n].encode(crops[n]) - taught[n].encode(crops[n])) ** 2)
                             .mean()) for n in components)

    # Taught on casual drawings only, the encoders drift away from what the teacher gives a
    # detailed sketch; the anchor holds them near it.
    assert drift(students[10.0]) < 0.75 * drift(students[0.0])  # 0.48 on the Xeon


def test_the_learning_rate_decays_linearly_over_the_last_steps():
    from sketch2idol.core.train.loop import learning_rate

    assert [learning_rate(1.0, step, 10, 0) for step in range(10)] == [1.0] * 10
    rates = [learning_rate(1.0, step, 10, 4) for step in range(10)]
    assert rates[:6] == [1.0] * 6
    assert rates[6:] == pytest.approx([0.8, 0.6, 0.4, 0.2])  # down to 0, the last step learns


def test_a_resumed_run_learns_at_the_rate_its_config_says_now(face_set, tmp_path):
    """--resume with a new --lr or --lr-decay-steps takes effect (the optimizers' saved rate
    does not win), and a decay ends on the last step's small rate."""
    run = tmp_path / "run"
    train(Stage1Trainer, stage1_config(face_set, 2), run)
    config = dataclasses.replace(stage1_config(face_set, 6), lr=1e-3, lr_decay_steps=3)
    train(Stage1Trainer, config, run, resume=True)
    saved = torch.load(run / CHECKPOINT_NAME, weights_only=False)["optimizers"]
    assert saved["autoencoders"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * 0.25)
    assert json.loads((run / "config.json").read_text())["changed"]["lr_decay_steps"] == 3


def test_a_palette_head_is_added_by_a_fine_tune_and_learns_the_label_map(face_set, tmp_path):
    from sketch2idol.core.errors import UserError

    stage1 = tmp_path / "stage1"
    train(Stage1Trainer, stage1_config(face_set, 1), stage1)
    plain = stage2_config(face_set, stage1, 1)
    small = plain.generator
    train(Stage2Trainer, plain, tmp_path / "plain")
    with_palette = dataclasses.replace(
        plain, steps=24, lr=1e-3, init_from=str(tmp_path / "plain"),
        generator=dataclasses.replace(small, palette_head=True))
    train(Stage2Trainer, with_palette, tmp_path / "palette")
    tuned, source = weights(tmp_path / "palette")["G"], weights(tmp_path / "plain")["G"]
    assert {key for key in tuned if not key.startswith("palette.")} == set(source)
    palette_losses = [row["G_palette"] for row in losses(tmp_path / "palette")]
    assert len(palette_losses) == 24 and palette_losses[-1] < 0.7 * palette_losses[0]
    # the other way round, a run's palette would be silently dropped: refused
    back = dataclasses.replace(plain, init_from=str(tmp_path / "palette"))
    with pytest.raises(UserError, match="does not fit this configuration"):
        train(Stage2Trainer, back, tmp_path / "back")


def test_a_discriminator_warm_up_leaves_the_generator_alone_then_trains_both(face_set, tmp_path):
    stage1 = tmp_path / "stage1"
    train(Stage1Trainer, stage1_config(face_set, 1), stage1)
    config = stage2_config(face_set, stage1, 2)
    train(Stage2Trainer, config, tmp_path / "start")
    warm = dataclasses.replace(config, steps=3, d_warmup_steps=2,
                               init_from=str(tmp_path / "start"))
    train(Stage2Trainer, warm, tmp_path / "warm")
    rows = losses(tmp_path / "warm")
    assert [sorted(row) for row in rows[:2]] == [["D", "step"]] * 2  # D alone, logged so
    assert "G_l1" in rows[2]
    start, after = weights(tmp_path / "start"), weights(tmp_path / "warm")
    assert not all(torch.equal(t, after["D"][k]) for k, t in start["D"].items())
    # step 3 trained G: it moved, and only then (a 2-step warm-up leaves it as it started)
    assert not all(torch.equal(t, after["G"][k]) for k, t in start["G"].items())
    warm_only = dataclasses.replace(warm, steps=2)
    train(Stage2Trainer, warm_only, tmp_path / "warm_only")
    assert_same_weights({"G": start["G"]}, {"G": weights(tmp_path / "warm_only")["G"]})


def test_gan_and_feature_matching_at_0_leave_the_discriminator_out(face_set, tmp_path):
    from sketch2idol.core.errors import UserError

    stage1 = tmp_path / "stage1"
    train(Stage1Trainer, stage1_config(face_set, 1), stage1)
    config = stage2_config(face_set, stage1, 2)
    train(Stage2Trainer, config, tmp_path / "start")
    recon = dataclasses.replace(config, steps=2, lambda_gan=0.0, lambda_feature_matching=0.0,
                                init_from=str(tmp_path / "start"))
    train(Stage2Trainer, recon, tmp_path / "recon")
    rows = losses(tmp_path / "recon")
    assert all("G_l1" in row and not {"D", "G_gan", "G_fm"} & set(row) for row in rows)
    start, after = weights(tmp_path / "start"), weights(tmp_path / "recon")
    assert_same_weights({"D": start["D"]}, {"D": after["D"]})  # neither run nor trained
    assert not all(torch.equal(t, after["G"][k]) for k, t in start["G"].items())
    # feature matching alone still needs the discriminator, trained as before
    fm_only = dataclasses.replace(recon, lambda_feature_matching=10.0)
    train(Stage2Trainer, fm_only, tmp_path / "fm_only")
    assert all({"D", "G_fm"} <= set(row) for row in losses(tmp_path / "fm_only"))
    with pytest.raises(UserError, match="drop --d-warmup"):
        Stage2Trainer(dataclasses.replace(recon, d_warmup_steps=1), DEVICE)


def test_sigterm_stops_a_training_run_with_its_checkpoint_and_resume_continues(face_set,
                                                                                tmp_path):
    """`kill PID` (how a nohup'd or container run is stopped) saves the last finished step, as
    Ctrl-C does, and exits with one line; --resume then carries on from that step."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    command = [sys.executable, "-m", "sketch2idol", "train", "stage1", "--data", str(face_set),
               "--out", str(run), "--batch-size", "2", "--checkpoint-every", "1000",
               "--sample-every", "1000", "--loader-workers", "0", "--quiet"]
    process = subprocess.Popen([*command, "--steps", "100000"], stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log = run / "losses.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and len(log.read_text().splitlines()) >= 3):
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "no training step within 120 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1].startswith("sketch2idol: interrupted;"), err
    assert "Traceback" not in err
    saved = torch.load(run / CHECKPOINT_NAME, weights_only=False)["step"]
    assert 3 <= saved < 1000  # the periodic checkpoint never came: this one is the exit's
    resumed = subprocess.run([*command, "--steps", str(saved + 2), "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert torch.load(run / CHECKPOINT_NAME, weights_only=False)["step"] == saved + 2


def test_a_run_made_before_the_palette_target_resumes_with_the_label_target(tmp_path):
    from sketch2idol.core.train.config import CONFIG_NAME, read_config, write_config

    write_config(tmp_path, Stage2Config(palette_target="paintable"))
    assert read_config(tmp_path, Stage2Config).palette_target == "paintable"
    document = json.loads((tmp_path / CONFIG_NAME).read_text())
    del document["config"]["palette_target"]  # as runs/*/config.json were written before
    (tmp_path / CONFIG_NAME).write_text(json.dumps(document))
    assert read_config(tmp_path, Stage2Config).palette_target == "labels"
    assert Stage2Config().palette_target == "paintable"  # new runs


def test_the_face_objective_teaches_the_encoders_on_the_painted_face(face_set, tmp_path):
    """`--through-generator`: only the encoders learn, from the face a frozen generator
    paints; the face's L1 to the photo falls on the faces it learns from, and a resumed run
    takes the same steps (the projection included)."""
    from sketch2idol.core.data import dataset
    from sketch2idol.core.errors import UserError
    from sketch2idol.core.train.stage1 import load_autoencoders
    from sketch2idol.core.train.through_generator import FaceObjective

    teacher, painter = tmp_path / "teacher", tmp_path / "painter"
    train(Stage1Trainer, stage1_config(face_set, 2), teacher)
    train(Stage2Trainer, stage2_config(face_set, teacher, 1), painter)
    config = dataclasses.replace(stage1_config(face_set, 16), teacher=str(teacher),
                                 through_generator=str(painter), casual_prob=0.75,
                                 anchor_weight=0.01, lr=2e-3)
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(Stage1Trainer, config, straight)
    train(Stage1Trainer, dataclasses.replace(config, steps=7), split)
    train(Stage1Trainer, config, split, resume=True)
    assert_same_weights(weights(straight), weights(split))
    components = ["left_eye", "right_eye", "nose", "mouth", "remainder"]
    assert set(losses(straight)[0]) == {"step", "total", "face", "flat",
                                        *(f"{name}_anchor" for name in components)}
    taught, learned = weights(teacher)["autoencoders"], weights(straight)["autoencoders"]
    decoders = [name for name in taught if ".decoder" in name]
    encoders = [name for name in taught if ".encoder" in name and name.endswith("weight")]
    assert decoders and all(torch.equal(taught[n], learned[n]) for n in decoders)
    assert any(not torch.equal(taught[n], learned[n]) for n in encoders)

    # The faces painted from the casual drawings, by the teacher's encoders and by the
    # learned ones: the learned paint closer to the photos.
    from sketch2idol.core.looks import look_from_params, look_vector
    from sketch2idol.core.models.tensors import to_unit

    rows = dataset.read_manifest(face_set)
    ids = [row["id"] for row in rows]
    drawings = to_unit(torch.from_numpy(np.stack([
        dataset.read_grey(dataset.casual_path(face_set, i)) for i in ids]))[:, None])
    photos = to_unit(torch.from_numpy(np.stack([
        dataset.read_rgb(dataset.photo_path(face_set, i)) for i in ids])).permute(0, 3, 1, 2))
    looks = torch.from_numpy(np.stack([look_vector(look_from_params(row["params"]))
                                       for row in rows]))

    def face_l1(run_dir):
        autoencoders = load_autoencoders(run_dir, DEVICE)
        objective = FaceObjective(teacher, painter, 0.5, 0.0,
                                  load_autoencoders(teacher, DEVICE), DEVICE)
        with torch.no_grad():
            return float((objective.paint(autoencoders, drawings, looks, ids)[1] - photos)
                         .abs().mean())

    # A painter trained for one step barely reads its input: the faces move a little (0.4235
    # against 0.4251 on the Xeon), but they must move towards the photos.
    assert face_l1(straight) < 0.998 * face_l1(teacher)

    # --feature-weight keeps the teacher-feature distillation beside the face's terms.
    kept = tmp_path / "kept"
    train(Stage1Trainer, dataclasses.replace(config, steps=1, feature_weight=0.5), kept)
    assert set(losses(kept)[0]) == set(losses(straight)[0]) | set(components)
    alone = tmp_path / "alone"  # no anchor, no distillation: the face's terms only
    train(Stage1Trainer, dataclasses.replace(config, steps=1, anchor_weight=0.0), alone)
    assert set(losses(alone)[0]) == {"step", "total", "face", "flat"}

    with pytest.raises(UserError, match="add --teacher"):
        Stage1Trainer(dataclasses.replace(config, teacher=None), DEVICE)
    with pytest.raises(UserError, match="holds no generator"):
        Stage1Trainer(dataclasses.replace(config, through_generator=str(teacher)), DEVICE)
