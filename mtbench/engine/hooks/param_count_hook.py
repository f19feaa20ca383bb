"""Log the parameter accounting when training or testing starts."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mtbench.engine.params import count_parameters, format_parameter_table
from mtbench.registry import HOOKS

__all__ = ['ParameterCountHook']


@HOOKS.register_module()
class ParameterCountHook(Hook):
    """Count parameters (see :func:`count_parameters`), log them, keep them in the message hub."""

    priority = 'VERY_LOW'

    def _count(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        counts = count_parameters(model)
        runner.message_hub.update_info('param_count', counts)
        runner.logger.info(f'Parameter accounting ({model.method.method_id}):\n'
                           + format_parameter_table(counts))

    def before_train(self, runner) -> None:
        self._count(runner)

    def before_test(self, runner) -> None:
        self._count(runner)
