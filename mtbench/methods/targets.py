"""Choosing method targets by module-name patterns."""
import fnmatch
import re
from typing import Dict, List, Sequence, Type

import torch.nn as nn

__all__ = ['find_modules', 'replace_module']


def _matches(name: str, pattern: str) -> bool:
    """A pattern matches a module name by its last components, a glob, or a regex ``re:...``."""
    if pattern.startswith('re:'):
        return re.fullmatch(pattern[3:], name) is not None
    if any(ch in pattern for ch in '*?['):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or name.endswith('.' + pattern)


def find_modules(root: nn.Module, patterns: Sequence[str],
                 kind: Type[nn.Module] = nn.Linear) -> Dict[str, nn.Module]:
    """Modules of type ``kind`` under ``root`` whose names match any pattern.

    Patterns: a name suffix (``'qkv'``, ``'mlp.fc1'``), a glob (``'layers.3.*.fc2'``) or a regular
    expression prefixed with ``re:``.

    Raises:
        ValueError: when a pattern matches nothing, listing the candidate module names.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    candidates = {n: m for n, m in root.named_modules() if isinstance(m, kind) and n}
    found: Dict[str, nn.Module] = {}
    for pattern in patterns:
        hits = {n: m for n, m in candidates.items() if _matches(n, pattern)}
        if not hits:
            suffixes = sorted({n.split('.')[-1] for n in candidates} |
                              {'.'.join(n.split('.')[-2:]) for n in candidates})
            raise ValueError(f'target pattern {pattern!r} matches no {kind.__name__} module. '
                             f'Available names end in: {", ".join(suffixes)} '
                             f'(e.g. {next(iter(candidates), "none")})')
        found.update(hits)
    return dict(sorted(found.items(), key=lambda kv: list(candidates).index(kv[0])))


def replace_module(root: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule called ``name`` (dotted path) of ``root`` by ``new``."""
    parent_name, _, child = name.rpartition('.')
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def linear_names(root: nn.Module) -> List[str]:
    """Names of every ``nn.Linear`` under ``root`` (for error messages and docs)."""
    return [n for n, m in root.named_modules() if isinstance(m, nn.Linear)]
