"""Mistakes in a user's input, reported by every tool as one line.

A :class:`UserError` means the input is wrong (a path, a file's content, a config value, a
checkpoint), not mtbench: the tools print ``error: <message>`` on stderr and exit with status 2,
without a traceback (set ``MTBENCH_DEBUG=1`` to see one). Each message says what is wrong, where
(file, key or value) and what to do. Anything else is a bug and keeps its traceback.

The subclasses also derive from the built-in type a caller would catch (``ValueError``,
``FileNotFoundError``), so library code can keep catching those.

Example:
    >>> raise MissingPathError('model.pretrained: checkpoints/swin_t.pth does not exist; '
    ...                        'download it or set model.pretrained=None')  # doctest: +SKIP
"""

__all__ = ['UserError', 'ConfigError', 'UnknownTypeError', 'UnknownArgumentError', 'DataError',
           'MissingPathError', 'CheckpointError', 'RecordError']


class UserError(Exception):
    """Base class: the message is the whole report (what, where, what to do)."""


class ConfigError(UserError, ValueError):
    """A config names something that does not exist or holds an invalid value."""


class UnknownTypeError(ConfigError, KeyError):
    """A config's ``type`` is not registered (a ``KeyError`` too, as registries raise)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


class UnknownArgumentError(ConfigError, TypeError):
    """A config passes an argument the registered class does not accept."""


class DataError(UserError, ValueError):
    """A dataset file or folder is missing a piece, unreadable, or inconsistent."""


class MissingPathError(UserError, FileNotFoundError):
    """A file or folder the user named (or a config points to) does not exist."""


class CheckpointError(UserError, ValueError):
    """A checkpoint is not a checkpoint, is truncated, unsafe, or belongs to another model."""


class RecordError(UserError, ValueError):
    """A result record (``result.json``) is unreadable or of an unknown schema."""
