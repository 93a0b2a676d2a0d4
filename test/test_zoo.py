"""The model pipeline on a CI-sized scale: dataset -> training -> export, and each artifact loads."""
import csv
import json

import numpy as np
import pytest

from f1_brains.cli import main
from f1_brains.core.backends import load_backend
from f1_brains.core.model_card import ModelCard, card_path_for
from f1_brains.zoo import dataset
from f1_brains.zoo.dataset import Disturbance, drive_and_record


def test_dataset_is_deterministic_and_labels_the_expert(tmp_path):
    card = ModelCard()
    a = drive_and_record("nurburgring", 1, seed=3, card=card)
    b = drive_and_record("nurburgring", 1, seed=3, card=card)
    assert len(a[0]) == len(b[0]) > 100 and all(np.array_equal(x, y) for x, y in zip(a[0][:50], b[0][:50]))
    assert a[1] == b[1] and a[2] == b[2]
    assert a[0][0].shape == (66, 200, 3) and a[0][0].dtype == np.uint8
    # The disturbances act on the executed command (in the real world's planar move the expert recovers
    # within a frame or two; recoveries worth learning from are issue 14's dataset work) ...
    quiet = drive_and_record("nurburgring", 1, seed=3, card=card, disturb=False)
    assert [r["offset_m"] for r in quiet[1][:100]] != [r["offset_m"] for r in a[1][:100]]
    assert 4.0 <= min(r["v"] for r in a[1]) and max(r["v"] for r in a[1]) <= 10.0   # ... the expert's labels


def test_laps_under_command_latency_record_the_states_it_leads_to(tmp_path):
    """--latency-ms: lap k's expert drives with the k-th latency; its labels are still the expert's decisions, on
    the frames of a car that answers late (further from the line)."""
    manifest = dataset.collect(tmp_path, ["nurburgring"], laps=2, seed=3, disturb=False, progress=False,
                               latencies=[0.02, 0.12])
    assert manifest["latencies_s"] == [0.02, 0.12] and all(r == "completed 1 lap(s)" for r in manifest["lap_ends"].values())
    rows = list(csv.DictReader(open(tmp_path / "data.csv")))
    by_lap = {lap: [abs(float(r["offset_m"])) for r in rows if r["lap"] == lap] for lap in ("0", "1")}
    assert {r["latency_ms"] for r in rows if r["lap"] == "0"} == {"20"}
    assert {r["latency_ms"] for r in rows if r["lap"] == "1"} == {"120"}
    assert np.mean(by_lap["1"]) > np.mean(by_lap["0"])
    with pytest.raises(SystemExit) as refused:   # argparse: usage and the reason, exit status 2
        main(["dataset", "--out", str(tmp_path / "x"), "--latency-ms", "-5"])
    assert refused.value.code == 2 and not (tmp_path / "x").exists()


def test_disturbance_is_seeded_and_bounded():
    one = Disturbance(np.random.default_rng(1))
    x = [one.step(0.05) for _ in range(3)]
    d1, d2 = Disturbance(np.random.default_rng(7)), Disturbance(np.random.default_rng(7))
    s1, s2 = [d1.step(0.05) for _ in range(2000)], [d2.step(0.05) for _ in range(2000)]
    steer, push = np.array(s1).T
    assert s1 == s2 and np.abs(steer).max() < 2.0 and np.abs(push).max() <= 2.5 and len(set(x)) == 3
    assert 0 < np.mean(push != 0) < 0.5   # sideways pushes happen, now and then


@pytest.mark.slow
def test_pipeline_end_to_end_on_a_tiny_dataset(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["dataset", "--out", str(data), "--circuits", "nurburgring", "--laps", "2", "--seed", "1"]) == 0
    pixels, labels, manifest = dataset.load(data)
    assert pixels.shape[0] == len(labels["v"]) == manifest["frames"] > 2000
    assert (data / "data.csv").read_text().splitlines()[0].startswith("v,w,")   # DeepLearningStudio's columns
    model_dir = tmp_path / "model"
    assert main(["train", "--data", str(data), "--out", str(model_dir), "--epochs", "1", "--val", "laps:1"]) == 0
    history = json.loads((model_dir / "training.json").read_text())
    assert history["frames_val"] > 0 and np.isfinite(history["best_val_mse_normalized"])
    exported = tmp_path / "exported"
    assert main(["export", "--weights", str(model_dir / "pilotnet_state.pt"), "--out", str(exported),
                 "--calibration", str(data)]) == 0
    trained_card = ModelCard.load(model_dir / "training_card.yaml")
    for artifact in ("pilotnet.pt", "pilotnet.onnx", "pilotnet.tflite", "pilotnet_int8.tflite",
                     "pilotnet_static_int8.pt", "pilotnet_savedmodel"):
        card = ModelCard.load(card_path_for(exported / artifact))
        assert card.output == trained_card.output        # exports carry the training's output ranges
        out = load_backend(exported / artifact).predict(card.to_tensor(pixels[:4]))
        assert out.shape == (4, 2) and np.all(np.isfinite(out))
    js = tmp_path / "offline.json"
    # one process: scoring is the point here (test_cli times models in their own processes)
    assert main(["bench", str(exported), "-n", "5", "--warmup", "1", "--data", str(data), "--json", str(js),
                 "--one-process"]) == 0
    rows = {r["model"].split("/")[-1]: r for r in json.loads(js.read_text())["rows"]}
    assert rows["pilotnet.pt"]["test_frames"] == manifest["frames"]
    # The same weights in every float format score the same; int8 formats stay close.
    assert rows["pilotnet.onnx"]["mse_normalized"] == pytest.approx(rows["pilotnet.pt"]["mse_normalized"], rel=1e-3)
    assert rows["pilotnet_int8.tflite"]["mse_normalized"] < 2 * rows["pilotnet.pt"]["mse_normalized"] + 1e-4
    assert "Offline evaluation on the held-out test set" in capsys.readouterr().out
