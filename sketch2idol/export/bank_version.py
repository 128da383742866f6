"""Roll out a grown feature bank: write version N+1 of manifold_projection beside version N.

    python -m sketch2idol.export.bank_version --repository model_repository --data data/synth
    curl -X POST http://127.0.0.1:8000/v2/repository/models/manifold_projection/load

The bank of the newest version is kept row for row (a NEIGHBORS row already handed out
still names the same training sketch) and the samples of the data set that it lacks are
appended, encoded by the stage-1 encoders of the weights the repository was exported from
(checked by weights id: features of another encoder would be meaningless to the decoders).
The data set must be the one the bank was made from (its dataset.json equal to the
version's training_data.json), grown: e.g. `sketch2idol data synth --count 5200` into the
same directory renders faces 5000..5199 and nothing else.

The new version directory holds what export writes for version 1 (FAISS indexes, bank
vectors and ids, training_data.json, the drawing guide's sketches, model.py,
MANIFEST.sha256); of the guide sketches only the new rows are rendered, version N's are
copied. It is written under a hidden name and renamed when complete, so Triton never sees
half a version. Loaded through Triton's model-control API (tritonserver
--model-control-mode=explicit), version N+1 replaces N with no failed request: the
projection's version policy serves the latest version only and Triton unloads N once N+1
is ready; each answer names its version (PROJECTION_VERSION, the gateway's
X-Model-Version).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketch2idol.core import contract
from sketch2idol.core.contract import BANK_IDS_FILE, TRAINING_DATA
from sketch2idol.core.data import dataset
from sketch2idol.core.weights import DEFAULT_WEIGHTS, Weights, load_weights
from sketch2idol.export.repository import weights_id, write_projection_version
from sketch2idol.export.triton_config import parse
from sketch2idol.serving.knn import IndexPolicy, read_projection_config

ENCODE_BATCH = 32


@dataclass(frozen=True)
class Bank:
    """The feature bank of one projection version and how it is served."""

    ids: list[str]
    features: np.ndarray  # float32 [M, C, D]
    data: dict  # training_data.json: what the rows were made from
    policy: IndexPolicy
    k: int
    regularisation: float


@dataclass(frozen=True)
class GrownVersion:
    directory: Path
    version: int
    rows: int
    added: int


def projection_versions(repository: Path) -> list[int]:
    """The version numbers of manifold_projection in a repository, ascending."""
    model_dir = Path(repository) / contract.PROJECTION
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def read_bank(version_dir: Path) -> Bank:
    """The bank served by a projection version directory (as export wrote it)."""
    config = read_projection_config(version_dir)
    vectors = np.load(version_dir / config["vectors_file"])  # [C, M, D]
    ids = json.loads((version_dir / BANK_IDS_FILE).read_text(encoding="utf-8"))
    data_file = version_dir / TRAINING_DATA
    data = json.loads(data_file.read_text()) if data_file.exists() else {}
    return Bank(ids=ids, features=np.ascontiguousarray(vectors.transpose(1, 0, 2)), data=data,
                policy=IndexPolicy(**config["policy"]), k=int(config["k"]),
                regularisation=float(config["regularisation"]))


def served_weights_id(repository: Path) -> str:
    """The weights id the repository's ensemble was exported from (its config parameter)."""
    config = parse((Path(repository) / contract.ENSEMBLE / "config.pbtxt").read_text())
    return config.parameters["weights_id"].string_value or "unknown"


def new_sample_ids(data_dir: Path, bank: Bank) -> list[str]:
    """Samples of a data set the bank lacks; refuses a data set the bank was not made from."""
    info = dataset.read_info(data_dir)
    for key in sorted(set(info) | set(bank.data)):
        if info.get(key) != bank.data.get(key):
            raise ValueError(f"{data_dir} is not the data set the bank was made from: its "
                             f"{key} is {info.get(key)!r}, the bank's {bank.data.get(key)!r} "
                             f"({TRAINING_DATA}); bank rows must keep naming their samples")
    known = set(bank.ids)
    return sorted(row["id"] for row in dataset.read_manifest(data_dir) if row["id"] not in known)


def encode_samples(weights: Weights, data_dir: Path, sample_ids: list[str]) -> np.ndarray:
    """float32 [N, C, D]: the stage-1 features of the samples' sketches."""
    import torch

    from sketch2idol.core.train.bank import encode_sketches

    features = []
    for start in range(0, len(sample_ids), ENCODE_BATCH):
        sketches = np.stack([dataset.read_grey(dataset.sketch_path(data_dir, sample_id))
                             for sample_id in sample_ids[start:start + ENCODE_BATCH]])
        if sketches.shape[1:] != (weights.size, weights.size):
            raise ValueError(f"{data_dir}: sketches of {sketches.shape[2]}x{sketches.shape[1]}"
                             f", the weights take {weights.size}x{weights.size}")
        with torch.no_grad():
            batch = torch.from_numpy(sketches)[:, None]
            features.append(encode_sketches(weights.autoencoders, batch).numpy())
    return np.concatenate(features).astype(np.float32)


def write_version(repository: Path, version: int, bank: Bank, previous: Path | None = None,
                  say: Callable[[str], None] = print) -> Path:
    """Write `bank` as manifold_projection/<version>, atomically (hidden name, then rename);
    the guide sketches of the rows `previous` (a version directory) has are copied from it."""
    model_dir = Path(repository) / contract.PROJECTION
    final = model_dir / str(version)
    if final.exists():
        raise ValueError(f"{final} already exists")
    staging = model_dir / f".{version}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        write_projection_version(staging, bank.ids, bank.features, bank.data, bank.policy,
                                 bank.k, bank.regularisation, previous=previous, say=say)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def grow_bank(repository: Path, data_dir: Path, weights_dir: Path = DEFAULT_WEIGHTS,
              say: Callable[[str], None] = print) -> GrownVersion:
    """Write version N+1 of the projection: version N's bank plus the data set's new samples."""
    repository, data_dir = Path(repository), Path(data_dir)
    versions = projection_versions(repository)
    if not versions:
        raise FileNotFoundError(f"{repository} has no {contract.PROJECTION} version to grow; "
                                "export the repository first (sketch2idol export)")
    served = served_weights_id(repository)
    if served != weights_id(weights_dir):
        raise ValueError(f"{repository} was exported from weights {served}, not from "
                         f"{weights_dir} ({weights_id(weights_dir)}): pass --weights")
    current_dir = repository / contract.PROJECTION / str(versions[-1])
    current = read_bank(current_dir)
    added_ids = new_sample_ids(data_dir, current)
    if not added_ids:
        raise ValueError(f"{data_dir} holds no sample that version {versions[-1]}'s bank of "
                         f"{len(current.ids)} rows lacks: nothing to add")
    say(f"encoding {len(added_ids)} new samples of {data_dir}")
    added = encode_samples(load_weights(weights_dir), data_dir, added_ids)
    grown = Bank(ids=current.ids + added_ids,
                 features=np.concatenate([current.features, added]), data=current.data,
                 policy=current.policy, k=current.k, regularisation=current.regularisation)
    version = versions[-1] + 1
    directory = write_version(repository, version, grown, previous=current_dir, say=say)
    return GrownVersion(directory=directory, version=version, rows=len(grown.ids),
                        added=len(added_ids))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sketch2idol.export.bank_version",
        description="Write the next version of manifold_projection: the newest version's "
                    "bank plus the samples of a grown data set, encoded by the repository's "
                    "weights. Load it with Triton's model-control API.")
    parser.add_argument("--repository", type=Path, default=Path("model_repository"),
                        help="model repository to add the version to (default: "
                             "model_repository)")
    parser.add_argument("--data", type=Path, required=True,
                        help="the bank's data set, grown (sketch2idol data synth / ingest)")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS,
                        help="the weights the repository was exported from (default: "
                             "weights/default)")
    args = parser.parse_args(argv)
    try:
        grown = grow_bank(args.repository, args.data, args.weights)
    except (FileNotFoundError, ValueError) as error:
        print(f"sketch2idol.export.bank_version: error: {error}", file=sys.stderr)
        return 2
    print(f"{grown.directory}: {grown.rows} bank rows ({grown.added} new); load it with\n"
          f"  curl -X POST http://127.0.0.1:8000/v2/repository/models/"
          f"{contract.PROJECTION}/load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
