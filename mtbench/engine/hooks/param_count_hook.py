"""Log the parameter accounting when training or testing starts (and when training ends).

Most methods train a fixed set of parameters. A method whose trainable set changes during
training (FAAR's rank shrinking) exposes ``num_trainable_at_init(model)``, the closed-form count
of the model as built; the hook then also reports the count at the end of training, and adds
``params.trainable_at_start`` / ``params.trainable_at_end`` to the run's ``result.json`` when the
two differ. Records of other methods are unchanged.
"""
import json
import os.path as osp

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mtbench.engine.hooks.result_record_hook import write_json_atomic
from mtbench.engine.params import count_parameters, format_parameter_table
from mtbench.registry import HOOKS

__all__ = ['ParameterCountHook', 'trainable_at_start']


def trainable_at_start(model) -> int:
    """Trainable parameters of ``model`` as built (before any change made during training)."""
    method = model.method
    if hasattr(method, 'num_trainable_at_init'):
        return int(method.num_trainable_at_init(model))
    return count_parameters(model)['trainable']


@HOOKS.register_module()
class ParameterCountHook(Hook):
    """Count parameters (see :func:`count_parameters`), log them, keep them in the message hub.

    Message hub entries: ``param_count`` (the counts when training or testing starts) and, for
    methods whose trainable set changes, ``param_count_end`` (at the end of training) and
    ``trainable_at_start``.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._record_mtime = None
        self._testing = False

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _count(self, runner) -> dict:
        model = self._model(runner)
        counts = count_parameters(model)
        runner.message_hub.update_info('param_count', counts)
        runner.logger.info(f'Parameter accounting ({model.method.method_id}):\n'
                           + format_parameter_table(counts))
        start = trainable_at_start(model)
        if start != counts['trainable']:
            runner.message_hub.update_info('trainable_at_start', start)
            runner.logger.info(f'Trainable parameters of the model as built: {start:,}')
        return counts

    def before_train(self, runner) -> None:
        self._count(runner)

    def after_train(self, runner) -> None:
        model = self._model(runner)
        start = trainable_at_start(model)
        counts = count_parameters(model)
        if counts['trainable'] != start:
            runner.message_hub.update_info('trainable_at_start', start)
            runner.message_hub.update_info('param_count_end', counts)
            runner.logger.info(f'Parameter accounting at the end of training '
                               f'({model.method.method_id}; {start:,} trainable at the '
                               f'start):\n' + format_parameter_table(counts))

    @staticmethod
    def _record(runner) -> str:
        return osp.join(runner.work_dir, 'result.json')

    def before_test(self, runner) -> None:
        path = self._record(runner)
        self._record_mtime = osp.getmtime(path) if osp.exists(path) else None
        self._testing = True
        self._count(runner)

    def after_test(self, runner) -> None:
        """Add ``trainable_at_start`` / ``trainable_at_end`` to this test's ``result.json``."""
        if runner.rank != 0 or not self._testing:
            return
        self._testing = False
        path = self._record(runner)
        model = self._model(runner)
        start, end = trainable_at_start(model), count_parameters(model)['trainable']
        written = osp.exists(path) and osp.getmtime(path) != self._record_mtime
        if start == end or not written:  # no change, or no record written by this test
            return
        with open(path) as f:
            record = json.load(f)
        record['params'].update(trainable_at_start=start, trainable_at_end=end)
        write_json_atomic(path, record)
