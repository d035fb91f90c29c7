"""Networks: activations, layers, the network kinds built from specs (the PANNs among them), and their
summaries; ``pretrained`` reads the PANNs' published checkpoints into models."""

from . import activations, panns  # panns registers the PANNs' network kinds in MODELS
from .layers import LAYERS
from .models import MODELS, NetworkSpec, build_network, network_spec
from .network import Network

__all__ = ["LAYERS", "MODELS", "Network", "NetworkSpec", "activations", "build_network", "network_spec"]
