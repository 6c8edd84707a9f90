"""Classify DNA sequences with one-hot encoding and a Conv1d network.

The Fireworks paper's use case was classifying phage genes from their
sequences. This example makes that kind of task offline: 1,200 synthetic
sequences of 100 bases, where the "phage" class carries a six-base motif at a
random position. A ``FunctionPipe`` one-hot encodes each sequence into a
(4, length) tensor column, and a small convolutional module, whose filters
act as motif detectors wherever the motif sits, reads that column.

    python examples/dna_conv1d.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from torch import nn

from fireworks_sk import FunctionPipe, Message, TorchClassifier

BASES = "ACGT"
MOTIF = "GGAGGT"


def make_sequences(n: int, length: int = 100, seed: int = 0) -> pd.DataFrame:
    """Random sequences; half are 'phage' and carry MOTIF somewhere."""
    rng = np.random.default_rng(seed)
    letters = rng.choice(list(BASES), size=(n, length))
    label = np.where(rng.random(n) < 0.5, "phage", "host")
    for row in np.flatnonzero(label == "phage"):
        start = rng.integers(0, length - len(MOTIF))
        letters[row, start : start + len(MOTIF)] = list(MOTIF)
    return pd.DataFrame({"sequence": ["".join(r) for r in letters], "label": label})


def one_hot_dna(message: Message) -> Message:
    """Replace the 'sequence' strings with a float tensor 'dna' of (n, 4, length)."""
    codes = np.array([[BASES.index(b) for b in s] for s in message["sequence"]])
    dna = torch.nn.functional.one_hot(torch.from_numpy(codes), num_classes=4)
    dna = dna.permute(0, 2, 1).to(torch.float32)  # Conv1d wants (n, channels, L)
    return message.drop(columns=["sequence"]).assign(dna=dna)


class MotifNet(nn.Module):
    """Convolution over the sequence, then the strongest match of each filter."""

    def __init__(self, n_filters: int = 16, width: int = 6):
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, kernel_size=width)
        self.out = nn.Linear(n_filters, 2)

    def forward(self, dna):
        matches = torch.relu(self.conv(dna))
        return self.out(matches.amax(dim=2))


def main() -> None:
    data = make_sequences(1_200)
    X_train, X_test, y_train, y_test = train_test_split(
        data[["sequence"]], data["label"], test_size=0.25, random_state=0
    )
    model = Pipeline(
        [
            ("onehot", FunctionPipe(one_hot_dna)),
            (
                "net",
                TorchClassifier(
                    MotifNet,
                    inputs="dna",
                    max_epochs=15,
                    batch_size=64,
                    lr=0.01,
                    random_state=0,
                ),
            ),
        ]
    )
    model.fit(X_train, y_train)
    print("one-hot shape:", tuple(model[0].transform(X_test[:3])["dna"].shape))
    print(f"test accuracy: {accuracy_score(y_test, model.predict(X_test)):.3f}")


if __name__ == "__main__":
    main()
