"""The TADFormer Swin block: prompt tokens in every window, TPC and the TA-module.

A :class:`TADFormerBlock` is a :class:`~mtbench.models.backbones.SwinBlock` converted in place
(``block.__class__``); its parameters keep their names. Its sites ``attn.qkv``, ``attn.proj``,
``mlp.fc1`` and ``mlp.fc2`` must already be :class:`~mtbench.methods.tadformer.TADLinear`.

Every block (prompts ``p`` ``[B, P, C]``, one prompt per task):

* ``norm1(p)`` is prepended to the tokens of every window. qkv runs on all ``P + n`` tokens;
  relative-position bias and shift mask apply to the token-token block only; prompts are queries
  too. After ``proj`` the prompt rows are averaged over the windows of each image (``a_p``).
* Prompt update (all blocks but the very last of the network):
  ``p <- p + DropPath(MLP(norm2(a_p)))`` with the shared-LoRA MLP (no attention residual).

The task-adapting block (last block of a stage) also computes, for every task ``t``:

* TPC: ``f_t = drop(a) * GELU(q_t k^T)`` per head (raw prompt-to-token logits, no scale/bias),
  ``z_t = LN_prompt(f_t + drop(a))`` (``a``: attention output of the tokens, the proj input);
* TA-module at proj (on each window), fc1 and fc2 (on the stage grid): ``W x + s B F(A z_t)``;
* task streams ``h_t = x + DropPath(proj_t)``, ``y_t = h_t + DropPath(fc2_t)`` (fc1 input
  ``norm2(h_t)``), and the skip feature ``f_t`` in token layout for the stage's gated skip.

The skip feature is laid out as the reference code does it: each window's ``[C, n]``
(channels-first) buffer is read as ``[n, C]`` before the windows are reversed. This is a
channel/token permutation inside each window that the published numbers include; mtbench
reproduces it (``docs/methods/tadformer.md``).
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from mtbench.methods.gelu_lowrank import gelu_lowrank, is_plain_gelu_mlp
from mtbench.models.backbones import SwinBlock, tokens_to_windows, windows_to_tokens

__all__ = ['TADFormerBlock']

BlockResult = Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor, Optional[torch.Tensor]]


class TADFormerBlock(SwinBlock):
    """A Swin block with TADFormer's prompts, TPC and TA-module (see the module docstring).

    Attributes:
        tad_task_block: whether this block computes task streams (last block of a stage).
        tad_update_prompts: whether this block updates the prompts (all but the network's last).
    """

    tad_task_block: bool
    tad_update_prompts: bool

    @classmethod
    def convert(cls, block: SwinBlock, task_block: bool, update_prompts: bool
                ) -> 'TADFormerBlock':
        """Turn ``block`` into a TADFormer block in place (parameters and names unchanged)."""
        block.__class__ = cls
        block.tad_task_block = bool(task_block)
        block.tad_update_prompts = bool(update_prompts)
        return block

    def _attend(self, windows: torch.Tensor, prompts: torch.Tensor,
                mask: Optional[torch.Tensor]) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Window attention over ``[prompts; tokens]``.

        Returns:
            ``(out [B*nW, P+n, C] before proj, raw prompt-token logits [B*nW, h, P, n] or None)``.
        """
        attn = self.attn
        bw, n, c = windows.shape
        p = prompts.shape[1]
        heads = attn.num_heads
        inp = torch.cat([prompts, windows], dim=1)
        total = p + n
        q, k, v = attn.qkv(inp).view(bw, total, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        logits = None
        if self.tad_task_block:
            logits = q[:, :, :p] @ k[:, :, p:].transpose(-2, -1)
        bias = attn.relative_position_bias().unsqueeze(0)  # [1, h, n, n]
        if mask is not None:
            n_win = mask.shape[0]
            bias = bias + mask.unsqueeze(1).to(bias.dtype)  # [nW, h, n, n]
        bias = F.pad(bias, (p, 0, p, 0))  # prompt rows/columns: no bias, no mask
        if mask is not None:
            # Fold the windows of an image into the head dimension so the mask broadcasts over B.
            bias = bias.reshape(1, n_win * heads, total, total)
            q, k, v = (t.reshape(bw // n_win, n_win * heads, total, -1) for t in (q, k, v))
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype),
            dropout_p=attn.attn_drop if self.training else 0.0)
        out = out.reshape(bw, heads, total, c // heads).transpose(1, 2).reshape(bw, total, c)
        return out, logits

    def forward(self, x: torch.Tensor, hw: Tuple[int, int], prompts: torch.Tensor
                ) -> BlockResult:
        """Apply the block.

        Args:
            x: tokens ``[B, H*W, C]``.
            hw: ``(H, W)``.
            prompts: ``[B, P, C]`` (one prompt per task, in the model's task order).

        Returns:
            ``(x, tasks, prompts, skip)``: shared tokens ``[B, H*W, C]``; task streams
            ``[T, B, H*W, C]`` and skip features ``[T, B, H*W, C]`` (``None`` outside the
            task-adapting block); the prompts for the next block.
        """
        b, _, c = x.shape
        p = prompts.shape[1]
        windows, mask, padded = tokens_to_windows(self.norm1(x), hw, self.window_size,
                                                  self.shift_size)
        bw, n, _ = windows.shape
        n_win = bw // b
        win_prompts = self.norm1(prompts).unsqueeze(1).expand(b, n_win, p, c).reshape(bw, p, c)
        out, logits = self._attend(windows, win_prompts, mask)
        proj = self.attn.proj
        base, shared, dropped = proj.parts(out, with_dropped=self.tad_task_block)
        y = self.attn.proj_drop(shared)
        attn_prompts = y[:, :p].reshape(b, n_win, p, c).mean(dim=1)
        tokens = windows_to_tokens(y[:, p:], hw, padded, self.window_size, self.shift_size)
        shortcut = x
        x = shortcut + self.drop_path(tokens)

        tasks = skip = None
        if self.tad_task_block:
            x, tasks, skip = self._task_streams(shortcut, x, dropped[:, p:], base[:, p:],
                                                logits, hw, padded)
        else:
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        if self.tad_update_prompts:
            prompts = prompts + self.drop_path(self.mlp(self.norm2(attn_prompts)))
        else:
            prompts = attn_prompts
        return x, tasks, prompts, skip

    def _hidden_in_chunks(self) -> bool:
        """Whether the task MLP fits :func:`~mtbench.methods.gelu_lowrank.gelu_lowrank`."""
        return is_plain_gelu_mlp(self.mlp)

    def _task_streams(self, shortcut, x, a, proj_base, logits, hw, padded):
        """TPC + TA-module at proj, fc1 and fc2, with the shared MLP.

        Returns:
            ``(shared x after the MLP, task streams [T, B, L, C], skip features [T, B, L, C])``.
        """
        ws, shift = self.window_size, self.shift_size
        attn, mlp = self.attn, self.mlp
        bw, n, c = a.shape
        t = logits.shape[2]
        heads = attn.num_heads
        # f_t[w, n, head, d] = a[w, n, head, d] * GELU(logit[w, head, t, n])
        gate = F.gelu(logits).permute(2, 0, 3, 1).unsqueeze(-1)  # [T, B*nW, n, heads, 1]
        f = (a.view(bw, n, heads, c // heads).unsqueeze(0) * gate).reshape(t, bw, n, c)
        proj_t = attn.proj_drop(attn.proj.task_forward(f + a, proj_base, (ws, ws),
                                                       attn.proj.tad_prompt_norm))
        proj_t = windows_to_tokens(proj_t.reshape(t * bw, n, c), hw, padded, ws, shift)
        skip = f.transpose(2, 3).reshape(t * bw, n, c)  # the reference's channels-first read
        skip = windows_to_tokens(skip, hw, padded, ws, shift)
        b, length, _ = shortcut.shape
        h_t = shortcut.unsqueeze(0) + self.drop_path(proj_t).view(t, b, length, c)

        fc1, fc2 = mlp.fc1, mlp.fc2
        base1, shared1, _ = fc1.parts(self.norm2(x))
        hidden = mlp.drop(mlp.act(shared1))
        base2, shared2, _ = fc2.parts(hidden)
        x = x + self.drop_path(mlp.drop(shared2))
        if self._hidden_in_chunks():  # the same expression, the hidden layers never stored
            shape = h_t.shape[:3]
            u2 = gelu_lowrank(base1.reshape(-1, base1.shape[-1]),
                              fc1.task_low(h_t, hw, self.norm2),
                              fc1.scale * fc1.tad_lora_B, fc2.tad_lora_A)
            out_t = fc2.task_up(fc2.filtered(u2, shape, hw), base2).view(*shape, -1)
        else:
            hid_t = mlp.drop(mlp.act(fc1.task_forward(h_t, base1, hw, self.norm2)))
            out_t = mlp.drop(fc2.task_forward(hid_t, base2, hw))
        y_t = h_t + self.drop_path(out_t.reshape(t * b, length, c)).view(t, b, length, c)
        return x, y_t, skip.view(t, b, length, c)
