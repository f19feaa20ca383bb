"""Analyses run on configs before or beside training (task similarity, ...)."""
from .task_similarity import (FORMULAS, estimate_similarity, gradient_similarity, group_tasks,
                              plot_similarity, run_task_similarity, select_shared_parameters,
                              task_gradients, train_heads)

__all__ = ['FORMULAS', 'estimate_similarity', 'gradient_similarity', 'group_tasks',
           'plot_similarity', 'run_task_similarity', 'select_shared_parameters',
           'task_gradients', 'train_heads']
