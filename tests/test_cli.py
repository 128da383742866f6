import subprocess
import sys

import pytest

from sketch2idol.cli import main

COMMANDS = [[], ["data"], ["data", "synth"], ["data", "preview"], ["data", "ingest"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: sketch2idol" in capsys.readouterr().out


@pytest.mark.parametrize("args, complaint", [
    (["data", "synth", "--count", "0", "--out", "x"],
     "argument --count: expected a whole number >= 1, got 0"),
    (["data", "synth", "--count", "3", "--size", "300", "--out", "x"], "invalid choice"),
    (["data", "synth", "--out", "x"], "--count"),
    (["nonsense"], "invalid choice"),
    (["train", "stage2", "--out", "x", "--casual-prob", "1.5"],
     "expected a probability from 0 to 1, got 1.5"),
    (["train", "stage1", "--out", "x", "--lr-decay-steps", "-1"],
     "expected a whole number >= 0, got -1"),
    (["train", "stage1", "--out", "x", "--steps", "ten"],
     "expected a whole number >= 1, got 'ten'"),
    (["train", "stage1", "--out", "x", "--anchor-weight", "-0.5"], "expected a number >= 0"),
    (["train", "stage1", "--out", "x", "--anchor-weight", "nan"], "expected a number >= 0"),
    (["train", "stage2", "--out", "x", "--gan-weight", "-1"], "expected a number >= 0"),
    (["train", "stage2", "--out", "x", "--flat-detail-weight", "-2"], "expected a number >= 0"),
    (["train", "stage2", "--out", "x", "--region-weight", "inf"], "expected a number >= 0"),
    (["train", "stage2", "--out", "x", "--palette-smoothing", "4"],
     "expected 0 or an odd whole number of pixels, got 4"),
    (["train", "stage1", "--out", "x", "--taught-components", "left_eye,hair"],
     "--taught-components: expected comma-separated names from left_eye, right_eye, nose, "
     "mouth, remainder, each once, got 'left_eye,hair'"),
    (["train", "stage1", "--out", "x", "--taught-components", "nose,nose"], "each once"),
    (["train", "stage1", "--out", "x", "--taught-components", ","], "each once"),
    (["generate", "x.png", "--timeout", "0"], "expected seconds > 0, got 0"),
])
def test_bad_arguments_exit_2_with_the_reason(args, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err


def test_missing_input_directory_is_a_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "sketch2idol", "data", "preview",
                           str(tmp_path / "nowhere"), "-o", str(tmp_path / "g.png")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("is not a directory")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args, complaint", [
    (["--look", "sparkly"], "--look: unknown look 'sparkly'; choose one of "),
    (["--look", ""], "--look: is empty"),
    (["--hair", "red"], "--hair: 'red' is not a colour; use #rrggbb"),
    (["--background2", "#12345"], "--background2: '#12345' is not a colour"),
    (["--seed", "-1"], "--seed: must be a whole number from 0 to 9007199254740991, got '-1'"),
    (["--look", "random", "--seed", "1.5"], "--seed: must be a whole number"),
    (["--seed", str(2**53)], "--seed: must be a whole number"),
])
def test_a_bad_look_option_is_one_line_before_anything_is_sent(args, complaint, tmp_path,
                                                               capsys):
    sketch = tmp_path / "sketch.png"
    sketch.write_bytes(b"not read: the look is checked first")
    # Nothing listens on port 9 (discard): were the request sent, the error would say so.
    code = main(["generate", str(sketch), "-o", str(tmp_path / "face.png"), *args,
                 "--server", "http://127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and err.startswith(f"sketch2idol: error: {complaint}"), err
    assert not (tmp_path / "face.png").exists()


def test_stage2_options_reach_its_config(tmp_path):
    """--casual-prob, --lr-decay-steps and the loss weights land in the stage-2 config."""
    from sketch2idol.cli import build_parser
    from sketch2idol.cli.train import resolve_config
    from sketch2idol.core.train.config import Stage2Config

    data = tmp_path / "data"
    data.mkdir()
    args = build_parser().parse_args(["train", "stage2", "--data", str(data), "--out",
                                      str(tmp_path / "run"), "--casual-prob", "0.75",
                                      "--lr-decay-steps", "100", "--gan-weight", "0",
                                      "--flat-detail-weight", "60", "--region-weight", "30",
                                      "--palette-weight", "2", "--palette-head",
                                      "--feature-matching-weight", "0",
                                      "--d-warmup", "50", "--part-detail-weight", "3"])
    config = resolve_config(args, Stage2Config)
    assert (config.casual_prob, config.lr_decay_steps, config.lambda_gan,
            config.lambda_flat_detail, config.lambda_region,
            config.lambda_palette) == (0.75, 100, 0.0, 60.0, 30.0, 2.0)
    assert config.generator.palette_head and not Stage2Config().generator.palette_head
    assert config.generator.palette_smoothing == 0  # not asked for: none
    assert config.d_warmup_steps == 50 and Stage2Config().d_warmup_steps == 0
    assert config.lambda_part_detail == 3 and Stage2Config().lambda_part_detail == 0
    assert config.lambda_feature_matching == 0 and Stage2Config().lambda_feature_matching > 0
    assert config.palette_target == "paintable"  # the default
    labels = build_parser().parse_args(["train", "stage2", "--data", str(data), "--out",
                                        str(tmp_path / "run"), "--palette-target", "labels"])
    assert resolve_config(labels, Stage2Config).palette_target == "labels"


def test_the_palette_target_flag_offers_what_the_trainer_takes(capsys):
    from sketch2idol.core.train.stage2 import PALETTE_TARGETS

    with pytest.raises(SystemExit):
        main(["train", "stage2", "--out", "x", "--palette-target", "nonsense"])
    err = capsys.readouterr().err
    offered = err[err.index("(choose from") + len("(choose from"):].split(")")[0]
    assert [choice.strip(" '") for choice in offered.split(",")] == list(PALETTE_TARGETS)


def test_palette_smoothing_reaches_the_generator_and_needs_a_palette_head(tmp_path):
    from sketch2idol.cli import build_parser
    from sketch2idol.cli.train import resolve_config
    from sketch2idol.core.errors import UserError
    from sketch2idol.core.train.config import Stage2Config

    (tmp_path / "data").mkdir()
    common = ["train", "stage2", "--data", str(tmp_path / "data"), "--out",
              str(tmp_path / "run"), "--palette-smoothing", "5"]
    config = resolve_config(build_parser().parse_args([*common, "--palette-head"]),
                            Stage2Config)
    assert config.generator.palette_head and config.generator.palette_smoothing == 5
    with pytest.raises(UserError, match="add --palette-head"):
        resolve_config(build_parser().parse_args(common), Stage2Config)


def test_weights_average_refuses_bad_inputs_in_one_line_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    default = "weights/default"
    for args, complaint in (
            ([default, str(tmp_path / "nowhere")], "is not a directory"),
            ([default, str(tmp_path / "empty")], "holds no weights.json")):
        code = main(["weights", "average", *args, "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and complaint in err, err
    with pytest.raises(SystemExit) as exit_info:  # argparse's usage line, then the reason
        main(["weights", "average", default, default, "--share", "1.5", "--out",
              str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_info.value.code == 2 and "expected a number from 0 to 1, got 1.5" in err
    assert not (tmp_path / "out").exists()


def test_weights_unpack_refuses_a_missing_or_bad_weights_directory_in_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for weights, complaint in ((tmp_path / "nowhere", "is not a directory"),
                               (tmp_path / "empty", "holds no weights.json")):
        code = main(["weights", "unpack", "--weights", str(weights), "--out",
                     str(tmp_path / "runs")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and complaint in err, err
    assert not (tmp_path / "runs").exists()
