"""The scalar transforms against hand-computed values."""

import math

import pytest
import torch

from baselines.efficientzero.support import h_inverse, h_transform, scalar_to_support, support_to_scalar


@pytest.mark.parametrize(
    "x, expected",
    [
        pytest.param(0.0, 0.0, id="zero"),
        pytest.param(3.0, 1.0 + 0.003, id="three"),  # sqrt(4) - 1 + 0.001 * 3
        pytest.param(-3.0, -1.003, id="minus-three"),
        pytest.param(8.0, 2.0 + 0.008, id="eight"),  # sqrt(9) - 1 + 0.008
        pytest.param(99.0, 9.0 + 0.099, id="ninety-nine"),
    ],
)
def test_h_hand_values(x, expected):
    assert h_transform(torch.tensor(x, dtype=torch.float64)).item() == pytest.approx(expected, abs=1e-12)


def test_h_inverse_round_trip():
    x = torch.tensor([-5000.0, -300.0, -1.5, -1e-3, 0.0, 1e-3, 0.7, 42.0, 12345.0], dtype=torch.float64)
    assert torch.allclose(h_inverse(h_transform(x)), x, rtol=1e-10, atol=1e-10)
    assert h_inverse(torch.tensor(1.003, dtype=torch.float64)).item() == pytest.approx(3.0, abs=1e-9)


def test_two_hot_hand_values():
    # h(3) = 1.003: 0.997 on the bin of 1, 0.003 on the bin of 2 (support [-2, 2], bin i is i - 2).
    probs = scalar_to_support(torch.tensor([3.0, 0.0, -3.0]), support_size=2)
    assert torch.allclose(probs[0], torch.tensor([0.0, 0.0, 0.0, 0.997, 0.003]), atol=1e-6)
    assert torch.allclose(probs[1], torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0]))
    # h(-3) = -1.003 = -2 + 0.997: 0.003 on -2, 0.997 on -1.
    assert torch.allclose(probs[2], torch.tensor([0.003, 0.997, 0.0, 0.0, 0.0]), atol=1e-6)


def test_two_hot_clips_at_the_support_edge():
    probs = scalar_to_support(torch.tensor([1e9, -1e9]), support_size=3)
    assert probs[0, -1].item() == 1.0 and probs[0].sum().item() == pytest.approx(1.0)
    assert probs[1, 0].item() == 1.0 and probs[1].sum().item() == pytest.approx(1.0)


def test_support_round_trip_through_log_probabilities():
    x = torch.tensor([[0.0, 1.0, -1.0], [3.0, 17.5, -250.0]])
    probs = scalar_to_support(x, support_size=300)
    assert probs.shape == (2, 3, 601)
    # log of a two-hot gives -inf on empty bins; softmax of it returns the two-hot exactly.
    decoded = support_to_scalar(torch.log(probs), support_size=300)
    assert torch.allclose(decoded, x, atol=1e-3)


def test_uniform_logits_decode_to_zero():
    assert support_to_scalar(torch.zeros(4, 601), 300).abs().max().item() < 1e-4
    assert math.isclose(support_to_scalar(torch.zeros(601), 300).item(), 0.0, abs_tol=1e-4)
