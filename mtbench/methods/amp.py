"""Mixed precision for mtbench's custom autograd functions."""
import torch

__all__ = ['autocast_inputs']


def autocast_inputs(*tensors: torch.Tensor):
    """Cast floating tensors to the autocast dtype when autocast is on for their device.

    Custom autograd functions are not covered by autocast; this gives them the inputs that
    ``F.linear`` and ``torch.bmm`` would see inside the autocast region.

    Example:
        >>> with torch.autocast('cpu', dtype=torch.bfloat16):
        ...     x, w = autocast_inputs(torch.ones(2, 3), torch.ones(4, 3))
        >>> x.dtype
        torch.bfloat16
    """
    device = tensors[0].device.type
    if not torch.is_autocast_enabled(device):
        return tensors
    dtype = torch.get_autocast_dtype(device)
    return tuple(t.to(dtype) if t.is_floating_point() else t for t in tensors)
