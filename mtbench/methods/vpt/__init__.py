"""Visual prompt tuning for Swin (shallow and deep)."""
from .vpt import VPT, PromptedSwinBlock

__all__ = ['VPT', 'PromptedSwinBlock']
