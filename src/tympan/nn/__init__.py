"""Networks: activations, layers, the network kinds built from specs, and their summaries."""

from . import activations
from .layers import LAYERS
from .models import MODELS, NetworkSpec, build_network, network_spec
from .network import Network

__all__ = ["LAYERS", "MODELS", "Network", "NetworkSpec", "activations", "build_network", "network_spec"]
