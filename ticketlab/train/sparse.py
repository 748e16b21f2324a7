"""Block-sparse layers: a cohort's masked weight matrices trained through their kept values.

Dense masked training pays for every pruned weight in each matrix product and again in the
optimizer. Here the M masked ``[out, in]`` matrices of a layer become one block-diagonal
CSR matrix ``[M*out, M*in]`` whose values are only the kept weights:

- forward: ``y = W @ x``, one CSR x dense product over every member's inputs stacked
  feature-major (``[M*in, B]``);
- weight gradient: ``dy @ x.T`` evaluated only at the kept positions (a sampled dense-dense
  product, SDDMM);
- input gradient (hidden layers only): ``W.T @ dy``, with a precomputed transposed pattern;
- Adam/SGD step only the kept values.

The sums are those of the dense masked path in a different order, so results agree to
float rounding (``tests/test_trainer.py`` checks this). Each product runs in a fixed order,
so a run repeats bit for bit.

Whether it pays depends on the device and the density. ``device.SPARSE_BELOW`` holds, per device
type, the density of a (compacted) layer at or below which it goes sparse, for input layers
(no input gradient) and hidden layers; ``ticketlab bench --crossover`` measures where the
crossover lies on the current device.
"""

from __future__ import annotations

import warnings

import torch


class BlockSparse:
    """The kept positions of a stacked mask ``[M, out, in]`` as a block-diagonal CSR
    pattern. Values are ordered member by member, row by row, column by column."""

    def __init__(self, mask: torch.Tensor, input_grad: bool) -> None:
        m, o, i = mask.shape
        self.members, self.rows, self.cols = m, o, i
        device = mask.device
        nz = mask.nonzero()
        self.flat = (nz[:, 0] * o + nz[:, 1]) * i + nz[:, 2]
        self.member = nz[:, 0]  # the member each kept value belongs to
        self.crow = _crow(nz[:, 0] * o + nz[:, 1], m * o)
        self.col = csr_index(nz[:, 0] * i + nz[:, 2])
        self.shape = (m * o, m * i)
        with warnings.catch_warnings():  # torch warns once that CSR support is "beta"
            warnings.simplefilter("ignore")
            self.matrix(torch.zeros(len(self.flat), device=device))
        if input_grad:
            ids = torch.full((m, o, i), -1, dtype=torch.long, device=device)
            ids.view(-1)[self.flat] = torch.arange(len(self.flat), device=device)
            ids_t = ids.transpose(1, 2)
            nz_t = (ids_t >= 0).nonzero()
            self.perm_t = ids_t[ids_t >= 0]
            self.crow_t = _crow(nz_t[:, 0] * i + nz_t[:, 1], m * i)
            self.col_t = csr_index(nz_t[:, 0] * o + nz_t[:, 2])

    @property
    def density(self) -> float:
        return len(self.flat) / (self.members * self.rows * self.cols)

    def gather(self, weight: torch.Tensor) -> torch.Tensor:
        """Stacked dense weights ``[M, out, in]`` -> the kept values."""
        return weight.reshape(-1)[self.flat].clone()

    def scatter(self, values: torch.Tensor) -> torch.Tensor:
        """Kept values -> stacked dense weights ``[M, out, in]``, zero where pruned."""
        out = values.new_zeros(self.members * self.rows * self.cols)
        out[self.flat] = values
        return out.view(self.members, self.rows, self.cols)

    def per_member(self, values: torch.Tensor) -> torch.Tensor:
        """Sums of per-value quantities ``values`` by member: ``[M]``."""
        return values.new_zeros(self.members).index_add_(0, self.member, values)

    def matrix(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sparse_csr_tensor(self.crow, self.col, values, self.shape)

    def matrix_t(self, values: torch.Tensor) -> torch.Tensor:
        return torch.sparse_csr_tensor(
            self.crow_t, self.col_t, values[self.perm_t], (self.shape[1], self.shape[0])
        )

    def apply(self, values: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        """``[M*out, B]`` outputs for feature-major inputs ``x_t`` ``[M*in, B]``."""
        return _BlockSparseMM.apply(values, x_t, self)


def _crow(rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """CSR row pointers of sorted row indices."""
    crow = torch.zeros(n_rows + 1, dtype=torch.long, device=rows.device)
    crow[1:] = torch.bincount(rows, minlength=n_rows).cumsum(0)
    return csr_index(crow)


def csr_index(x: torch.Tensor) -> torch.Tensor:
    """CSR indices as int32 where they fit: the CPU kernels (MKL) take int32 and would
    otherwise convert int64 indices on every call."""
    return x.to(torch.int32) if x.numel() == 0 or x.max() < 2**31 - 1 else x


class _BlockSparseMM(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        values: torch.Tensor,
        x_t: torch.Tensor,
        layer: BlockSparse,
    ) -> torch.Tensor:
        ctx.save_for_backward(values, x_t)
        ctx.layer = layer  # type: ignore[attr-defined]
        return torch.sparse.mm(layer.matrix(values), x_t)

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        values, x_t = ctx.saved_tensors  # type: ignore[attr-defined]
        layer: BlockSparse = ctx.layer  # type: ignore[attr-defined]
        grad = grad.contiguous()
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:  # type: ignore[attr-defined]
            grad_values = torch.sparse.sampled_addmm(
                layer.matrix(torch.zeros_like(values)), grad, x_t.t(), beta=0.0
            ).values()
        if ctx.needs_input_grad[1]:  # type: ignore[attr-defined]
            grad_x = torch.sparse.mm(layer.matrix_t(values), grad)
        return grad_values, grad_x, None


def forward(
    params: dict[str, torch.Tensor],
    layers: dict[str, BlockSparse],
    x: torch.Tensor,
    n_layers: int,
    feature_major: bool,
) -> torch.Tensor:
    """Logits ``[M, B, classes]`` of a cohort whose weights named in ``layers`` are kept
    values and the rest stacked dense, held input-major, ``[M, in, out]`` (with no sparse
    layers this is the plain batched forward pass, which the trainer uses for dense cohorts
    too). ``x`` is ``[M, B, in]``, or ``[M, in, B]`` when ``feature_major`` (the layout a
    sparse first layer reads without a copy).

    Input-major dense weights are the layout of ``x @ W``, so the weight gradient ``x.T @
    dy`` lands in the weight's own layout: stored ``[M, out, in]``, autograd would copy
    every step's gradient into the transposed layout (measured 1.5 ms of a 5.8 ms first
    layer forward and backward, cohort of 6, batch 128, 2-core CPU)."""
    h = x
    for i in range(1, n_layers + 1):
        w, b = params[f"fc{i}.weight"], params[f"fc{i}.bias"]
        layer = layers.get(f"fc{i}.weight")
        if layer is not None:
            m, out, batch = layer.members, layer.rows, h.shape[2 if feature_major else 1]
            h_t = h if feature_major else h.transpose(1, 2)
            with torch.autocast(h.device.type, enabled=False):  # sparse products: fp32 only
                h_t = h_t.to(w.dtype).reshape(m * layer.cols, batch)
                h = layer.apply(w, h_t).view(m, out, batch)
            h = h + b.unsqueeze(2)
            feature_major = True
        else:
            if feature_major:
                h = h.transpose(1, 2)
            h = torch.baddbmm(b.unsqueeze(1), h, w)
            feature_major = False
        if i < n_layers:
            h = torch.relu(h)
    return h.transpose(1, 2) if feature_major else h
