"""skorch's habits on the Torch estimators: datasets, splits, callbacks, classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fireworks_sk import TorchClassifier


class EndlessDataset(torch.utils.data.Dataset):
    """A Dataset whose __getitem__ never raises IndexError (a common sight)."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> tuple[float, int]:
        return 0.0, 0


def test_dataset_without_index_error_as_x_does_not_loop(blobs):
    X, y = blobs
    clf = TorchClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(TypeError, match="X is a torch Dataset"):
        clf.predict(EndlessDataset())
