"""The attention block against attention written out by hand (docs/method.md §4)."""

import torch

from uqseg.nn.blocks import AttentionBlock


def test_attention_block_equals_softmax_attention_by_hand() -> None:
    torch.manual_seed(0)
    block = AttentionBlock(channels=8, num_heads=2, groups=2)
    torch.nn.init.normal_(block.proj_out.weight)  # zero-initialised: the residual alone would hide the attention
    x = torch.randn(3, 8, 4, 5)  # non-square: rows and columns cannot be swapped unnoticed
    b, c, h, w = x.shape
    flat = x.reshape(b, c, h * w)
    qkv = block.qkv(block.norm(flat)).reshape(b, 3, 2, c // 2, h * w)
    q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
    weights = torch.softmax(q.transpose(-1, -2) @ k / (c // 2) ** 0.5, dim=-1)
    attended = (weights @ v.transpose(-1, -2)).transpose(-1, -2).reshape(b, c, h * w)
    expected = (flat + block.proj_out(attended)).reshape(b, c, h, w)
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=1e-5)
