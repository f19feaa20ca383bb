"""BitFit: only bias terms train."""
from .bitfit import BitFit

__all__ = ['BitFit']
