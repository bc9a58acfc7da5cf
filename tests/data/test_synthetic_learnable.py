"""The synthetic data is learnable: a small softmax UNet reaches ID Dice ≥ 0.6 in 200 steps at 32×32."""

import numpy as np
import pytest
import torch

from uqseg.data import get_dataset
from uqseg.metrics.segmentation import dice
from uqseg.nn.config import ModelConfig
from uqseg.nn.softmax import SoftmaxModel


@pytest.mark.slow
@pytest.mark.parametrize("name", ["synthetic-lidc", "synthetic-chaksu"])
def test_small_unet_learns_the_synthetic_data(name: str) -> None:
    torch.manual_seed(0)
    data = get_dataset(name, image_size=32, n_train=400, n_val=4, n_test=100)
    info = data.info
    model = SoftmaxModel(ModelConfig(in_channels=info.in_channels, num_classes=info.num_classes, image_size=32,
                                     base_width=16, channel_mult=(1, 2, 4), num_res_blocks=1, attention_levels=(),
                                     group_norm_groups=8))
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    train = data.split("train")
    rng = np.random.default_rng(0)
    for _ in range(200):
        index = np.sort(rng.choice(len(train), size=16, replace=False))
        batch = {"image": torch.from_numpy(np.asarray(train.images[index])),
                 "annotations": torch.from_numpy(np.asarray(train.annotations[index]))}
        optimiser.zero_grad()
        model.loss(batch).backward()
        optimiser.step()
    test = data.split("test")
    model.eval()
    with torch.no_grad():
        pred = model.predict(torch.from_numpy(np.asarray(test.images[:]))).argmax(1).numpy()
    score = float(np.nanmean(dice(np.asarray(test.annotations[:]), pred, info.num_classes)))
    assert score >= 0.6, f"{name}: ID Dice {score:.3f} after 200 steps"
