"""Polyhistor / Polyhistor-Lite: decomposed hypernetworks and layer-wise scaling kernels."""
from .decomposed import DecomposedHypernetwork, batched_kron
from .polyhistor import Polyhistor, PolyhistorLite

__all__ = ['DecomposedHypernetwork', 'Polyhistor', 'PolyhistorLite', 'batched_kron']
