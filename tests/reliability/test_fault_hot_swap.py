"""Faults: hot swap of a grown feature bank under load, through Triton's model-control API.

The bank grows the way an operator grows it: the training set gains faces (here the next
12 procedural faces of the training seed, 5000..5011, as `data synth --count 5012` would
render them), `python -m sketch2idol.export.bank_version` writes manifold_projection version 2 (the
5000 rows of version 1 plus the 12 new ones, encoded by the stage-1 encoders) beside
version 1, and `load_model` swaps it in while three clients keep drawing those very faces;
then it is rolled back (version 2 moved out of the directory, load again).

Zero failed requests; every answer names the projection version it came from (JSON
`model.projection_version`, X-Model-Version) and its neighbour rows agree with it: version
1's rows all lie below 5000, version 2 finds each drawn face's own new row among the
nearest. Answers switch for good: nothing from version 1 after the first from version 2
(until the rollback, after which everything comes from version 1 again).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import tritonclient.grpc as grpcclient
from fault_stack import (
    assert_no_traceback,
    copy_repository,
    report_figures,
    seconds,
    triton_and_gateway,
    warm_up,
)
from fault_traffic import Traffic, describe, ok_count, tally

from benchmarks.loadgen import png_payloads
from sketch2idol.core import contract
from sketch2idol.core.data import dataset
from sketch2idol.core.data.synth import sample_id, write_sample
from sketch2idol.serving.integrity import verify_manifest

FIRST_NEW = 5000  # the default bank holds faces 0..4999 of the training seed
NEW_FACES = 12
CLIENTS = 3
ALL_MODELS = [*contract.COMPOSING_MODELS, contract.ENSEMBLE]


def grown_training_set(directory, repository) -> tuple:
    """The training set's next faces, in the data set layout, with the dataset.json the
    bank was made from; returns (directory, their sketches)."""
    info = json.loads((repository / contract.PROJECTION / "1" / contract.TRAINING_DATA).read_text())
    dataset.check_or_write_info(directory, info)
    dataset.prepare_dirs(directory)
    rows = [write_sample((str(directory), info["seed"], index, info["size"]))
            for index in range(FIRST_NEW, FIRST_NEW + NEW_FACES)]
    dataset.write_manifest(directory, rows)
    return directory, [dataset.read_grey(dataset.sketch_path(directory, row["id"]))
                       for row in rows]


def projection_states(client) -> dict[str, str]:
    return {model.get("version", ""): model.get("state", "")
            for model in client.get_model_repository_index(as_json=True)["models"]
            if model["name"] == contract.PROJECTION}


def all_rows(outcome) -> list[int]:
    return [row for rows in outcome.neighbors.values() for row in rows]


def test_a_grown_bank_is_swapped_in_under_load_without_a_failed_request(
        exported_repository, tmp_path):
    repository = copy_repository(exported_repository[0], tmp_path / "repository")
    data, sketches = grown_training_set(tmp_path / "synth", repository)
    payloads = png_payloads(sketches)
    with triton_and_gateway(repository, tmp_path, model_control_mode="explicit",
                            load_models=ALL_MODELS) as (triton, gateway, url):
        gateway_pid = gateway.pid
        warm_up(url, payloads[0])
        client = grpcclient.InferenceServerClient(triton.grpc_address)
        with Traffic(url, payloads, CLIENTS) as traffic:
            traffic.wait_for(lambda done: ok_count(done) >= 2 * CLIENTS, 60, "serving")
            written = subprocess.run(
                [sys.executable, "-m", "sketch2idol.export.bank_version",
                 "--repository", str(repository), "--data", str(data)],
                capture_output=True, text=True, timeout=300)
            assert written.returncode == 0, written.stderr
            version_2 = repository / contract.PROJECTION / "2"
            verify_manifest(version_2)
            load_started = time.monotonic()
            client.load_model(contract.PROJECTION)
            load_ended = time.monotonic()
            traffic.wait_for(lambda done: ok_count(done, after=load_ended) >= 2 * CLIENTS, 60,
                             "answers after the load")
            states = projection_states(client)
            # Roll back: version 2 out of the directory, load again: version 1 comes back.
            rollback_started = time.monotonic()
            version_2.rename(tmp_path / "rolled_back_2")
            client.load_model(contract.PROJECTION)
            rollback_ended = time.monotonic()
            traffic.wait_for(lambda done: ok_count(done, after=rollback_ended) >= CLIENTS, 60,
                             "answers after the rollback")
        outcomes = traffic.outcomes
        assert states.get("2") == "READY" and states.get("1") != "READY", states
        assert projection_states(client).get("1") == "READY"
        assert gateway.alive() and gateway.pid == gateway_pid
    assert f"{version_2}: {FIRST_NEW + NEW_FACES} bank rows ({NEW_FACES} new)" in written.stdout

    counts = tally(outcomes, bound_s=30)
    assert counts.succeeded == counts.sent and counts.lost == 0, describe(outcomes)
    rolled_back = [o for o in outcomes if o.started >= rollback_ended]
    assert rolled_back and all(o.projection_version == "1" for o in rolled_back)
    rollback_phase = [o.projection_version for o in outcomes if o.started >= rollback_started]
    outcomes = [o for o in outcomes if o.started < rollback_started]  # the swap itself
    during = [o for o in outcomes if o.started < load_ended and o.finished > load_started]
    assert during, "no request was in flight while the new version loaded"
    by_version = {version: [o for o in outcomes if o.projection_version == version]
                  for version in ("1", "2")}
    assert len(by_version["1"]) + len(by_version["2"]) == len(outcomes), \
        {o.projection_version for o in outcomes}
    for version, answers in by_version.items():
        assert answers, f"no answer from version {version}"
        assert all(o.model_header.endswith(f" projection={version}") for o in answers)
    assert all(max(all_rows(o)) < FIRST_NEW for o in by_version["1"])
    for outcome in by_version["2"]:  # each drawn face finds its own new bank row
        own_row = FIRST_NEW + outcome.payload
        assert own_row in outcome.neighbors["remainder"], (own_row, outcome.neighbors)
        position = outcome.neighbors["remainder"].index(own_row)
        assert outcome.neighbor_ids["remainder"][position] == sample_id(own_row)
    first_v2_done = min(o.finished for o in by_version["2"])
    assert all(o.started < first_v2_done for o in by_version["1"]), "answers switched back"
    assert all(o.projection_version == "2" for o in outcomes if o.started >= load_ended)
    assert all(o.finished > load_started for o in by_version["2"])
    assert_no_traceback(tmp_path / "gateway.log")
    report_figures("hot_swap", {
        **counts.as_dict(), "clients": CLIENTS, "in_flight_during_load": len(during),
        "rollback_load_s": seconds(rollback_ended - rollback_started),
        "rollback_phase_answers": {v: rollback_phase.count(v) for v in ("1", "2")},
        "swap_phase_answers": {v: len(answers) for v, answers in by_version.items()},
        "load_model_s": seconds(load_ended - load_started),
        "load_call_to_first_v2_answer_s": seconds(first_v2_done - load_started),
        "bank_rows": {"v1": FIRST_NEW, "v2": FIRST_NEW + NEW_FACES}})
