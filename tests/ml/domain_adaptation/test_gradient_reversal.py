import torch

from ml.domain_adaptation.gradient_reversal import GradientReversal, reverse_gradient


def test_forward_is_the_identity():
    x = torch.randn(3, 4)
    assert torch.equal(reverse_gradient(x, 0.7), x)


def test_gradient_is_negated_and_scaled_by_hand():
    # f(x) = sum(w * grl(x)); df/dx = -strength * w.
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    w = torch.tensor([0.5, 2.0, -1.0])
    (w * reverse_gradient(x, 0.25)).sum().backward()
    assert x.grad is not None
    assert x.grad.tolist() == [-0.125, -0.5, 0.25]


def test_parameters_before_the_layer_get_the_reversed_gradient_and_after_it_the_normal_one():
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(3.0, requires_grad=True)
    grl = GradientReversal(1.0)
    x = torch.tensor(5.0)
    loss = b * grl(a * x)  # d/da = -(b * x) = -15; d/db = a * x = 10
    loss.backward()
    assert a.grad is not None and b.grad is not None
    assert float(a.grad) == -15.0 and float(b.grad) == 10.0
    grl.strength = 0.0
    a.grad = None
    (b * grl(a * x)).backward()
    assert float(a.grad) == 0.0
