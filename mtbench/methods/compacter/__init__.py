"""Compacter and Compacter++: adapters whose projections are low-rank PHM layers."""
from .compacter import Compacter
from .layer import CompacterAdapter, CompacterLinear

__all__ = ['Compacter', 'CompacterAdapter', 'CompacterLinear']
