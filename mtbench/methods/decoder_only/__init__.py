"""Decoder-only tuning: frozen backbone."""
from .decoder_only import DecoderOnly

__all__ = ['DecoderOnly']
