"""tympan.registry: lookups by name, the error that lists the choices, and the legacy ``name`` key."""

import pytest

from tympan.errors import ConfigError
from tympan.registry import Registry, legacy_name_as_kind


def test_a_registry_keeps_order_and_behaves_like_the_dict_it_replaced():
    shapes = Registry("shape")

    @shapes.register("square")
    class Square:
        pass

    @shapes.register("circle", "disc")
    class Round:
        kind = "circle"

    assert shapes.names() == list(shapes) == ["square", "circle", "disc"] and len(shapes) == 3
    assert "disc" in shapes and "oval" not in shapes and shapes["disc"] is shapes.get("circle") is Round
    assert dict(shapes.items()) == {"square": Square, "circle": Round, "disc": Round}
    assert Square.kind == "square" and Round.kind == "circle"  # several names: the class keeps its own kind
    with pytest.raises(ConfigError, match=r"shape='oval' is unknown: choose one of square, circle, disc"):
        shapes["oval"]
    with pytest.raises(ConfigError, match=r"--shape=\['square'\] is unknown"):
        shapes.get(["square"], option="--shape")
    with pytest.raises(TypeError, match="registered twice"):
        shapes.register("square")(object)


def test_every_registry_of_the_package_lists_its_choices_in_its_error():
    from tympan.augment import AUGMENTATIONS
    from tympan.data.layouts import LAYOUTS
    from tympan.lab import LESSONS
    from tympan.nn import LAYERS, MODELS
    from tympan.nn.activations import ACTIVATIONS
    from tympan.train.losses import LOSSES

    for registry in (ACTIVATIONS, LAYERS, MODELS, AUGMENTATIONS, LOSSES, LAYOUTS, LESSONS):
        with pytest.raises(ConfigError) as error:
            registry.get("no-such-thing")
        assert "'no-such-thing' is unknown" in str(error.value) and ", ".join(registry) in str(error.value)


def test_the_legacy_name_key_is_read_as_kind_and_kind_wins():
    assert legacy_name_as_kind({"name": "noise", "p": 0.5}) == {"kind": "noise", "p": 0.5}
    assert legacy_name_as_kind({"kind": "noise", "p": 0.5}) == {"kind": "noise", "p": 0.5}
    # Both keys: nothing is renamed, so the stray name reaches the builder, which refuses it.
    assert legacy_name_as_kind({"kind": "tanh", "name": "relu"}) == {"kind": "tanh", "name": "relu"}
