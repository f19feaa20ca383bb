"""One-dimensional CPA diffeomorphisms of [0, 1] and their action on singular-value spectra.

A continuous piecewise-affine (CPA) velocity field on ``N_P`` equal cells of ``[0, 1]`` with zero
velocity at both ends is fixed by its values at the ``N_P - 1`` interior vertices, a linear
function of the parameters ``theta`` (:func:`vertex_velocity_matrix`). Integrating the field for
unit time gives ``phi_theta``, an increasing diffeomorphism of ``[0, 1]`` that keeps 0 and 1 fixed
(Freifeld et al., "Transformations Based on Continuous Piecewise-Affine Velocity Fields", TPAMI
2017, doi 10.1109/TPAMI.2016.2646685). Inside a cell the velocity is affine,
``v(x) = v_c + a_c (x - x_c)``, so the flow has the closed form::

    psi(x, t) = x + v(x) t (exp(a_c t) - 1) / (a_c t)

until the trajectory reaches the cell boundary ``x_b`` at ``t_hit = (x_b - x) / v(x) *
log(r) / (r - 1)`` with ``r = v(x_b) / v(x)`` (only when ``r > 0``); it then continues from the
boundary in the neighbour cell for the remaining time. :func:`cpa_integrate` runs this walk for all
points at once (at most ``N_P`` cell crossings), in differentiable torch operations.

Both ratios are evaluated in forms that stay finite as ``a_c -> 0`` and ``r -> 1``, so the
gradients are finite everywhere, including at ``theta = 0`` where ``phi`` is exactly the
identity.
"""
import torch

__all__ = ['BASES', 'SPECTRUM_MODES', 'cpa_integrate', 'spectrum_delta', 'vertex_velocities',
           'vertex_velocity_matrix']

#: ``'rref'``: the basis of the ``difw`` library's ``Cpab(..., basis='rref')`` (its default,
#: used by the DiTASK code); ``'vertex'``: ``theta`` are the interior vertex velocities.
BASES = ('rref', 'vertex')
#: ``'index'``: warp the index axis of the sorted spectrum and resample it (the DiTASK code's
#: ``Cpab.transform_data``); ``'value'``: ``sigma -> sigma_max phi(sigma / sigma_max)``.
SPECTRUM_MODES = ('index', 'value')


def vertex_velocity_matrix(cells: int, basis: str = 'rref', dtype=torch.float64,
                           device=None) -> torch.Tensor:
    """The matrix ``M`` with interior vertex velocities ``v_j = sum_k M[j, k] theta_k``.

    ``'rref'`` reproduces difw's zero-boundary ``rref`` basis on ``[0, 1]``: basis field ``k``
    (``k = 1 .. N_P - 1``) is ``x / k`` on ``[0, k / N_P]``, falls linearly to 0 at
    ``(k + 1) / N_P`` and is 0 beyond (its affine coefficients scaled to unit max-norm). Hence
    ``M[j, k] = j / (N_P k)`` for ``j <= k`` and 0 otherwise. ``'vertex'`` is the identity.

    Args:
        cells: number of cells ``N_P`` (>= 2).
        basis: one of :data:`BASES`.
        dtype, device: of the result.

    Returns:
        ``[N_P - 1, N_P - 1]``.
    """
    if basis not in BASES:
        raise ValueError(f'CPA basis must be one of {BASES}, got {basis!r}')
    n = cells - 1
    if basis == 'vertex':
        return torch.eye(n, dtype=dtype, device=device)
    j = torch.arange(1, cells, dtype=dtype, device=device)
    return torch.where(j[:, None] <= j[None, :], j[:, None] / (cells * j[None, :]),
                       torch.zeros((), dtype=dtype, device=device))


def vertex_velocities(theta: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Velocities at all ``N_P + 1`` vertices (zero at both ends) for ``theta`` ``[S, N_P - 1]``."""
    interior = theta @ matrix.to(theta.dtype).t()
    return torch.nn.functional.pad(interior, (1, 1))


def _expm1_ratio(z: torch.Tensor) -> torch.Tensor:
    """``(exp(z) - 1) / z``, 1 at ``z = 0``."""
    small = z.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, 1 + z / 2 + z * z / 6, torch.expm1(safe) / safe)


def _log_ratio(r: torch.Tensor) -> torch.Tensor:
    """``log(r) / (r - 1)`` for ``r > 0``, 1 at ``r = 1``."""
    w = r - 1
    small = w.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(w), w)
    return torch.where(small, 1 - w / 2 + w * w / 3, torch.log1p(safe) / safe)


def cpa_integrate(x: torch.Tensor, velocity: torch.Tensor, time: float = 1.0) -> torch.Tensor:
    """``phi(x)``: the points ``x`` moved for ``time`` along the CPA field, in closed form.

    Args:
        x: points in ``[0, 1]``, ``[S, P]`` (transform ``s`` moves row ``s``).
        velocity: vertex velocities ``[S, N_P + 1]`` (zero at both ends, see
            :func:`vertex_velocities`).
        time: integration time (1 in DiTASK).

    Returns:
        ``[S, P]``; exactly ``x`` where the velocity is zero.
    """
    cells = velocity.shape[1] - 1
    cell = (x.detach() * cells).floor().clamp(0, cells - 1).long()
    remaining = torch.full_like(x, float(time))
    pos, out = x, x
    active = torch.ones_like(x, dtype=torch.bool)
    for _ in range(cells):
        v_left, v_right = velocity.gather(1, cell), velocity.gather(1, cell + 1)
        slope = (v_right - v_left) * cells
        # lerp is exact at both ends, so the zero boundary velocities stay exactly zero.
        v = torch.lerp(v_left, v_right, pos * cells - cell.to(x.dtype))
        psi = pos + v * remaining * _expm1_ratio(slope * remaining)
        right = v > 0
        target = (cell + right.long()).to(x.dtype) / cells
        v_target = torch.where(right, v_right, v_left)
        moving = v != 0
        v_safe = torch.where(moving, v, torch.ones_like(v))
        ratio = v_target / v_safe
        reaches = moving & (ratio > 0)  # the velocity keeps its sign up to the boundary
        ratio = torch.where(reaches, ratio, torch.ones_like(ratio))
        t_hit = torch.where(reaches, (target - pos) / v_safe * _log_ratio(ratio),
                            torch.zeros_like(v))
        crosses = active & reaches & (t_hit < remaining)
        out = torch.where(active & ~crosses, psi, out)
        pos = torch.where(crosses, target, pos)
        remaining = torch.where(crosses, remaining - t_hit, remaining)
        cell = torch.where(crosses, cell + torch.where(right, 1, -1), cell)
        active = crosses
        if not bool(active.any()):
            break
    return out.clamp(0, 1)


def spectrum_delta(sigma: torch.Tensor, velocity: torch.Tensor, mode: str = 'index'
                   ) -> torch.Tensor:
    """``f_theta(sigma) - sigma`` for descending spectra under CPA fields.

    * ``'index'``: with ``p`` singular values and grid ``x_i = i / (p - 1)``, the new spectrum is
      the old one linearly interpolated at the fractional index ``(p - 1) phi(x_i)``;
    * ``'value'``: ``f(sigma) = sigma_max phi(sigma / sigma_max)``.

    Both keep the largest value (and, for ``'index'``, the smallest), keep the order, and return
    exactly 0 where ``phi`` is the identity.

    Args:
        sigma: ``[C, p]`` spectra (descending, ``C`` blocks of one weight, e.g. q, k, v).
        velocity: ``[S, N_P + 1]`` vertex velocities of ``S`` transforms.
        mode: one of :data:`SPECTRUM_MODES`.

    Returns:
        ``[S, C, p]``.
    """
    streams, (blocks, p) = velocity.shape[0], sigma.shape
    if mode == 'index':
        grid = torch.arange(p, dtype=velocity.dtype, device=velocity.device)
        x = (grid / max(p - 1, 1)).expand(streams, p)
        position = grid + (cpa_integrate(x, velocity) - x) * (p - 1)
        position = position.clamp(0, p - 1)
        lower = position.detach().floor().clamp(max=max(p - 2, 0)).long()
        frac = (position - lower.to(position.dtype)).unsqueeze(1)
        table = sigma.unsqueeze(0).expand(streams, blocks, p)
        index = lower.unsqueeze(1).expand(streams, blocks, p)
        at_lower = table.gather(2, index)
        at_upper = table.gather(2, (index + 1).clamp(max=p - 1))
        return (at_lower - sigma) + frac * (at_upper - at_lower)
    if mode == 'value':
        top = sigma[:, :1].clamp_min(torch.finfo(sigma.dtype).tiny)
        x = (sigma / top).clamp(0, 1).reshape(1, -1).expand(streams, -1)
        moved = cpa_integrate(x, velocity) - x
        return top * moved.view(streams, blocks, p)
    raise ValueError(f'spectrum mode must be one of {SPECTRUM_MODES}, got {mode!r}')
