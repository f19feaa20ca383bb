"""DiTASK: diffeomorphic (CPA) transformations of the frozen weights' singular values."""
from .cpab import (BASES, SPECTRUM_MODES, cpa_integrate, spectrum_delta, vertex_velocities,
                   vertex_velocity_matrix)
from .ditask import PRETRAINED_GROUPS, SITES, DiTASK
from .layer import COMBINE_MODES, DiTASKLinear

__all__ = ['BASES', 'COMBINE_MODES', 'DiTASK', 'DiTASKLinear', 'PRETRAINED_GROUPS',
           'SITES', 'SPECTRUM_MODES', 'cpa_integrate', 'spectrum_delta', 'vertex_velocities',
           'vertex_velocity_matrix']
