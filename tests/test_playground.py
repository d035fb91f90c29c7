"""The playground (`tympan serve`'s /playground): its engine against `tympan lab`'s lessons, its REST API and
event stream over real HTTP, and the page in a real headless Chromium."""

import json
import time
import urllib.request

import numpy as np
import pytest

from tympan.errors import ConfigError
from tympan.lab import run
from tympan.lab.activations import depth
from tympan.lab.common import rounded
from tympan.serve.playground_engine import PlaygroundConfig, Trainer
from tympan.serve.playground_presets import PRESETS
from web import chromium, post_json, request, screenshot, serving, wait_for

pytest.importorskip("fastapi", reason="tympan serve needs the serve extra (fastapi, uvicorn, python-multipart)")


def preset_run(name: str):
    """A preset's trainer, its snapshot at epoch 0, and its snapshot after the lesson's epochs."""
    preset = PRESETS.get(name)
    trainer = Trainer(PlaygroundConfig().replace(preset.config))
    first = trainer.snapshot()
    trainer.train_epochs(preset.config["stop_at"])
    return trainer, first, trainer.snapshot()


@pytest.fixture(scope="module")
def lab_xor():
    return run("xor", out=None, seed=0)


# ------------------------------------------------------------------------------------ the engine


def test_perceptron_and_hidden_layer_presets_reproduce_lab_xor(lab_xor):
    trainer, _, last = preset_run("perceptron-xor")
    assert rounded(last["train_accuracy"]) == lab_xor["perceptron"]["XOR"] <= 0.75
    outputs = trainer.probability(trainer.points.x_train).tolist()
    assert rounded(outputs) == lab_xor["perceptron_xor_outputs"]
    _, _, last = preset_run("hidden-layer-xor")
    assert rounded(last["train_accuracy"]) == lab_xor["mlp"]["XOR"] == 1.0
    assert rounded(last["train_loss"]) == lab_xor["mlp"]["final_loss"]


def test_step_and_sigmoid_presets_reproduce_lab_step_vs_sigmoid():
    lab = run("step-vs-sigmoid", out=None, seed=0)
    for unit in ("step", "sigmoid"):
        trainer, first, last = preset_run(f"{unit}-units")
        found = {"loss_first": first["train_loss"], "loss_last": last["train_loss"],
                 "gradient_norm": first["gradient_norm"], "accuracy": last["train_accuracy"]}
        assert rounded(found, 6) == {k: lab[unit][k] for k in found}, unit
    assert lab["step"]["loss_first"] == lab["step"]["loss_last"] and lab["step"]["gradient_norm"] == 0.0
    assert trainer.history[0][0] > 50 * trainer.history[-1][0]  # the sigmoid network learned


def test_learning_rate_presets_reproduce_lab_learning_rate():
    lab = run("learning-rate", out=None, seed=0)
    for regime, expected in lab["rates"].items():
        trainer, _, last = preset_run(f"learning-rate-{regime.replace(' ', '-')}")
        curve = np.array([train for train, _ in trainer.history])
        (w,), (b,) = last["weights"][0][0], last["biases"][0]
        found = {"learning_rate": trainer.config.learning_rate, "final_loss": last["train_loss"],
                 "highest_loss": curve.max(), "rises": int((np.diff(curve) > 0).sum()), "final_w": w, "final_b": b}
        assert rounded(found) == {k: expected[k] for k in found}, regime
    assert lab["rates"]["too large"]["rises"] >= 5
    # leaving the lesson's network: its start and its length go with it
    assert trainer.change({"inputs": ["x1", "x2"]}) is True
    assert trainer.config.start is None and trainer.config.stop_at is None


def test_deep_presets_reproduce_lab_depth_at_the_playgrounds_limits():
    lab = depth(seed=0, layers=6, width=8)
    for unit in ("sigmoid", "relu"):
        _, first, last = preset_run(f"deep-{unit}")
        norms = first["gradient_norms"]  # each dense layer's weights, the output last
        found = {"first_to_last": norms[0] / norms[-2], "final_loss": last["train_loss"],
                 "accuracy": last["train_accuracy"]}
        assert rounded(found) == {k: lab[k][unit] for k in found}, unit
    assert lab["final_loss"]["relu"] < 0.5 * lab["final_loss"]["sigmoid"]


def test_circles_with_a_hidden_layer_of_tanh_units_learn():
    trainer = Trainer(PlaygroundConfig(data="circles", hidden=[4], activation="tanh", learning_rate=0.03,
                                       batch_size=10))
    trainer.train_epochs(30)
    test_losses = [test for _, test in trainer.history]
    assert test_losses[-1] < 0.6 * test_losses[0]
    assert trainer.snapshot()["test_accuracy"] > 0.8


def test_xor_without_hidden_layers_is_not_learned_and_with_x1_x2_it_is():
    c = PlaygroundConfig(data="xor", hidden=[], inputs=["x1", "x2"], learning_rate=0.03, batch_size=10)
    linear = Trainer(c)
    linear.train_epochs(30)
    assert linear.snapshot()["train_accuracy"] <= 0.75 and linear.snapshot()["test_accuracy"] <= 0.75
    product = Trainer(c.replace({"inputs": ["x1", "x2", "x1_x2"]}))
    product.train_epochs(30)
    assert product.snapshot()["test_accuracy"] > 0.95


def test_the_audio_problem_needs_a_hidden_layer():
    flat = Trainer(PlaygroundConfig(data="audio", hidden=[], learning_rate=0.03))
    deep = Trainer(flat.config.replace({"hidden": [6, 4]}))
    for trainer in (flat, deep):
        trainer.train_epochs(60)
    assert set(deep.points.y_train.tolist()) == {0, 1}
    assert deep.snapshot()["test_accuracy"] > flat.snapshot()["test_accuracy"] + 0.1


def test_same_configuration_and_seed_give_the_same_numbers():
    c = PlaygroundConfig(data="spirals", noise=0.2, hidden=[3, 3], optimizer="adam", regularization="l1",
                         regularization_rate=0.001, batch_size=7)
    one, two = Trainer(c), Trainer(c)
    one.train_epochs(3)
    two.train_epochs(3)
    assert one.snapshot() == two.snapshot()
    other = Trainer(c.replace({"seed": 1}))
    assert not np.array_equal(other.points.x_train, one.points.x_train)


def test_regularisation_and_live_changes():
    trainer = Trainer(PlaygroundConfig(data="gaussians", hidden=[4], regularization="l2", regularization_rate=1.0,
                                       learning_rate=0.3))
    weight = trainer.dense[0].linear.weight
    before = weight.detach().abs().sum().item()
    trainer.train_epochs(10)
    assert weight.detach().abs().sum().item() < before  # a large L2 rate shrinks the weights
    assert trainer.change({"learning_rate": 0.01}) is False and trainer.epoch == 10
    assert trainer.optimizer.param_groups[0]["lr"] == 0.01
    assert trainer.change({"hidden": [2]}) is True and trainer.epoch == 0


@pytest.mark.parametrize("values, says", [
    ({"hidden": [8] * 7}, "0 to 6 hidden layers"),
    ({"hidden": [4, 9]}, "hidden layer 2's units=9"),
    ({"activation": "gelu"}, "activation='gelu' is unknown: choose one of linear, step"),
    ({"inputs": ["x3"]}, "inputs='x3' is unknown"),
    ({"inputs": []}, "choose one or more"),
    ({"learning_rate": 0}, "learning_rate=0: must be a number more than 0"),
    ({"batch_size": -1}, "batch_size=-1"),
    ({"noise": 0.9}, "noise=0.9: must be a number from 0 to 0.5"),
    ({"data": "moon"}, "data='moon' is unknown"),
    ({"colour": "red"}, "unknown field(s) colour"),
    ({"start": [1.0, 2.0, 3.0]}, "only for one output unit without hidden layers"),
])
def test_limits_are_refused_with_the_field_named(values, says):
    with pytest.raises(ConfigError, match=None) as error:
        PlaygroundConfig().replace(values)
    assert says in str(error.value)


def test_idle_sessions_and_closed_streams_end():
    from tympan.serve.playground import Sessions

    sessions = Sessions(max_sessions=2, max_epochs=5, idle_seconds=0.3, grace_seconds=0.2)
    idle = sessions.create({"data": "gaussians", "hidden": []})
    watched = sessions.create({"data": "gaussians", "hidden": []})
    watched.streams = 1  # a page is listening
    time.sleep(0.5)
    sessions.sweep()
    assert len(sessions) == 1 and idle.ended and "nobody asked" in idle.reason
    watched.streams, watched.stream_closed = 0, time.monotonic()  # its page went away, seen until then
    watched.seen = watched.stream_closed
    time.sleep(0.4)
    sessions.sweep()
    assert len(sessions) == 0 and watched.ended and watched.reason == "its page closed"


def test_a_session_stops_at_its_epoch_cap():
    from fastapi import HTTPException

    from tympan.serve.playground import Sessions

    sessions = Sessions(max_sessions=1, max_epochs=3, idle_seconds=60, grace_seconds=10)
    session = sessions.create({"data": "gaussians", "hidden": []})
    for _ in range(3):
        session.control("step")
    with pytest.raises(HTTPException) as refused:
        session.control("play")
    assert refused.value.status_code == 409 and "trained its 3 epochs" in refused.value.detail
    sessions.end(session.id, "test over")


# ------------------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("models")) as base:
        yield base


def events(url: str, wanted: int, timeout: float = 30) -> list[tuple[str, dict]]:
    """The first ``wanted`` server-sent events of ``url``, as (event, data)."""
    found, kind = [], None
    with urllib.request.urlopen(url, timeout=timeout) as stream:
        for line in stream:
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[len("event: "):]
            elif line.startswith("data: "):
                found.append((kind, json.loads(line[len("data: "):])))
                if len(found) == wanted:
                    return found
    return found


def test_session_stream_control_and_changes_over_http(server):
    api = f"{server}/api/playground"
    status, session = post_json(f"{api}/sessions", {"data": "gaussians", "hidden": [3], "seed": 4})
    assert status == 201 and session["epoch"] == 0 and session["playing"] is False
    sid = session["id"]
    (kind, layout), (kind2, snapshot) = events(f"{api}/sessions/{sid}/stream", 2)
    assert (kind, kind2) == ("layout", "snapshot") and layout["config"]["seed"] == 4
    assert len(layout["train"]) == 250 and layout["hidden"] == [3]
    assert snapshot["epoch"] == 0 and len(snapshot["boundary"]) == layout["boundary_size"] ** 2
    assert [len(layer) for layer in snapshot["neurons"]] == [3] and len(snapshot["weights"]) == 2

    assert post_json(f"{api}/sessions/{sid}/control", {"action": "step"})[1]["epoch"] == 1
    assert post_json(f"{api}/sessions/{sid}/control", {"action": "play"})[1]["playing"] is True
    later = [data for kind, data in events(f"{api}/sessions/{sid}/stream", 5) if kind == "snapshot"]
    assert later[-1]["epoch"] > 1 and later[-1]["playing"] is True
    assert post_json(f"{api}/sessions/{sid}/control", {"action": "pause"})[1]["playing"] is False

    status, changed = post_json(f"{api}/sessions/{sid}", {"learning_rate": 0.1}, method="PUT")
    assert status == 200 and changed["rebuilt"] is False and changed["epoch"] > 1
    status, changed = post_json(f"{api}/sessions/{sid}", {"hidden": [2, 2]}, method="PUT")
    assert status == 200 and changed["rebuilt"] is True and changed["epoch"] == 0
    assert post_json(f"{api}/sessions/{sid}", {"hidden": [9]}, method="PUT") == \
        (422, {"detail": "hidden layer 1's units=9: must be a whole number from 1 to 8"})
    status, refused = post_json(f"{api}/sessions/{sid}/control", {"action": "fly"})
    assert status == 422 and "choose play, pause, step or reset" in refused["detail"]
    status, refused = post_json(f"{api}/sessions", {"activation": "swish"})
    assert status == 422 and "activation='swish' is unknown" in refused["detail"]

    assert request(f"{api}/sessions/{sid}", method="DELETE")[0] == 200
    status, gone = request(f"{api}/sessions/{sid}")
    assert status == 404 and "no playground session" in gone["detail"]


def test_options_presets_and_documentation(server):
    status, options = request(f"{server}/api/playground/options")
    assert status == 200 and options["limits"]["hidden_layers"] == 6 and options["limits"]["units"] == 8
    assert {"linear", "step", "sigmoid", "tanh", "arctan", "relu", "leaky_relu", "softplus"} == \
        set(options["activations"])
    assert {"xor", "circles", "spirals", "gaussians", "audio"} <= {d["name"] for d in options["data"]}
    status, presets = request(f"{server}/api/playground/presets")
    assert status == 200 and {"perceptron-xor", "step-units", "learning-rate-too-large", "deep-sigmoid"} <= \
        {p["name"] for p in presets}
    spec = request(f"{server}/openapi.json")[1]
    assert {"/api/playground/sessions", "/api/playground/sessions/{session_id}/stream"} <= set(spec["paths"])
    assert spec["paths"]["/api/playground/sessions"]["post"]["summary"]


def test_the_session_limit_and_close(server):
    api = f"{server}/api/playground"
    running, allowed = (lambda c: (c["sessions"], c["max_sessions"]))(request(f"{api}/sessions")[1])
    ids = [post_json(f"{api}/sessions", {"data": "gaussians", "hidden": []})[1]["id"]
           for _ in range(allowed - running)]
    req = urllib.request.Request(f"{api}/sessions", data=b"{}", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as full:
        urllib.request.urlopen(req, timeout=30)
    assert full.value.code == 503 and int(full.value.headers["Retry-After"]) > 0
    assert "sessions running, this server's limit" in json.loads(full.value.read())["detail"]
    assert post_json(f"{api}/sessions/{ids[0]}/close", {})[0] == 200  # as a closing page's sendBeacon does
    assert request(f"{api}/sessions/{ids[0]}")[0] == 404
    status, again = post_json(f"{api}/sessions", {"data": "gaussians", "hidden": []})
    assert status == 201
    for sid in ids[1:] + [again["id"]]:
        assert request(f"{api}/sessions/{sid}", method="DELETE")[0] == 200
    assert request(f"{api}/sessions")[1]["sessions"] == running


# ------------------------------------------------------------------------------------- the page


def number(driver, element_id: str) -> float:
    return float(driver.find_element("id", element_id).text.replace(",", "").rstrip("%"))


def severe(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_page_learns_circles_and_shows_the_perceptron_failing_on_xor(server, lab_xor):
    from selenium.webdriver.support.ui import Select

    with chromium() as driver:
        driver.get(f"{server}/playground")
        wait_for(driver, lambda d: d.find_element("id", "test-loss").text not in ("", "\u2013"),
                 message="no first snapshot")
        driver.find_element("css selector", "#datasets button[data-name='circles']").click()
        wait_for(driver, lambda d: "selected" in d.find_element(
            "css selector", "#datasets button[data-name='circles']").get_attribute("class"))
        wait_for(driver, lambda d: number(d, "epoch") == 0)
        first = number(driver, "test-loss")
        driver.find_element("id", "play").click()
        wait_for(driver, lambda d: number(d, "epoch") >= 40, message="circles did not train 40 epochs")
        assert number(driver, "test-loss") < 0.8 * first
        assert len(driver.find_elements("css selector", "#links path")) == 2 * 4 + 4 * 2 + 2 * 1
        assert len(driver.find_elements("css selector", ".pg-node.neuron")) == 4 + 2 + 1
        screenshot(driver, "playground")
        driver.find_element("id", "play").click()  # pause

        Select(driver.find_element("id", "preset")).select_by_value("perceptron-xor")
        wait_for(driver, lambda d: "XOR truth" in d.find_element("css selector", "#datasets .selected").text
                 and number(d, "epoch") == 0)
        driver.find_element("id", "play").click()
        wait_for(driver, lambda d: number(d, "epoch") == 500 and "stopped at epoch 500" in
                 d.find_element("id", "notice").text, timeout=90, message="the XOR preset did not stop at 500")
        accuracy = number(driver, "train-accuracy") / 100
        assert accuracy <= 0.75 and accuracy == lab_xor["perceptron"]["XOR"]  # the lab's own number
        screenshot(driver, "playground-xor")
        assert severe(driver) == []
