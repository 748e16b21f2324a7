import pytest
import torch

from ticketlab.models.mlp import forward as dense_forward
from ticketlab.train.sparse import BlockSparse, forward


@pytest.fixture
def mask() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    m = torch.rand(3, 7, 11, generator=g) < 0.3
    m[1, 2] = False  # an empty row
    m[2, :, 4] = False  # an empty column
    return m


def test_gather_scatter_round_trip(mask: torch.Tensor) -> None:
    w = torch.randn(mask.shape) * mask
    layer = BlockSparse(mask, input_grad=False)
    values = layer.gather(w)
    assert values.numel() == mask.sum()
    assert torch.equal(layer.scatter(values), w)
    assert layer.density == pytest.approx(mask.float().mean().item())


def test_products_and_gradients_match_the_dense_masked_ones(mask: torch.Tensor) -> None:
    w = torch.randn(mask.shape, dtype=torch.float64) * mask
    x = torch.randn(3, 5, 11, dtype=torch.float64)
    layer = BlockSparse(mask, input_grad=True)
    values = layer.gather(w).requires_grad_()
    xs = x.clone().requires_grad_()
    y = layer.apply(values, xs.transpose(1, 2).reshape(33, 5)).view(3, 7, 5).transpose(1, 2)
    wd, xd = w.clone().requires_grad_(), x.clone().requires_grad_()
    yd = torch.bmm(xd, wd.transpose(1, 2))
    g = torch.randn_like(yd)
    (y * g).sum().backward()
    (yd * g).sum().backward()
    torch.testing.assert_close(y, yd)
    torch.testing.assert_close(values.grad, layer.gather(wd.grad))
    torch.testing.assert_close(xs.grad, xd.grad)
    assert torch.autograd.gradcheck(
        layer.apply, (values.detach().requires_grad_(), x.reshape(33, 5).requires_grad_())
    )


@pytest.mark.parametrize("which", [["fc1.weight"], ["fc2.weight"], ["fc1.weight", "fc2.weight"]])
def test_forward_with_any_sparse_layers_matches_dense(which: list[str]) -> None:
    g = torch.Generator().manual_seed(1)
    sizes = [(6, 9), (4, 6)]
    params, layers = {}, {}
    for i, (o, n) in enumerate(sizes, start=1):
        mask = torch.rand(2, o, n, generator=g) < 0.5
        params[f"fc{i}.weight"] = torch.randn(2, o, n, generator=g) * mask
        params[f"fc{i}.bias"] = torch.randn(2, o, generator=g)
        if f"fc{i}.weight" in which:
            layers[f"fc{i}.weight"] = BlockSparse(mask, input_grad=i > 1)
    x = torch.randn(2, 5, 9, generator=g)
    want = dense_forward(params, x, 2)
    mixed = {  # sparse layers as kept values, dense weights input-major
        k: layers[k].gather(v) if k in layers else v.transpose(1, 2) if v.dim() == 3 else v
        for k, v in params.items()
    }
    first_sparse = "fc1.weight" in layers
    xin = x.transpose(1, 2).contiguous() if first_sparse else x
    torch.testing.assert_close(forward(mixed, layers, xin, 2, first_sparse), want)
