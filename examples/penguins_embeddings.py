"""Classify penguin species with a two-input torch module on the bundled data.

The numeric measurements are scaled and stacked into one float tensor; the
island and sex columns become int64 codes for ``nn.Embedding``. The module's
``forward`` takes both by name, and ``TorchClassifier(inputs=[...])`` feeds
each Message column to the argument of the same name.

    python examples/penguins_embeddings.py
"""

from __future__ import annotations

import torch
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from torch import nn

from fireworks_sk import BatchNormalizer, IndexEncoder, Stack, TorchClassifier
from fireworks_sk.datasets import load_penguins

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


class PenguinNet(nn.Module):
    """Numeric features plus one embedding per categorical column."""

    def __init__(self, n_numeric: int = 4, n_islands: int = 4, n_sexes: int = 3):
        # Embedding sizes count code 0, which IndexEncoder(handle_unknown=
        # "ignore") reserves for categories unseen in fit.
        super().__init__()
        self.island = nn.Embedding(n_islands, 2)
        self.sex = nn.Embedding(n_sexes, 1)
        self.head = nn.Sequential(
            nn.Linear(n_numeric + 2 + 1, 16), nn.ReLU(), nn.Linear(16, 3)
        )

    def forward(self, numeric, island, sex):
        parts = [numeric, self.island(island), self.sex(sex)]
        return self.head(torch.cat(parts, dim=1))


def main() -> None:
    penguins = load_penguins().dropna()
    X, y = penguins[[*NUMERIC, "island", "sex"]], penguins["species"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    encode = IndexEncoder(["island", "sex"], handle_unknown="ignore")
    model = Pipeline(
        [
            ("scale", BatchNormalizer(NUMERIC)),
            ("numeric", Stack(NUMERIC, into="numeric")),
            ("codes", encode),
            (
                "net",
                TorchClassifier(
                    PenguinNet,
                    inputs=["numeric", "island", "sex"],  # forward's arguments
                    module__n_islands=X["island"].nunique() + 1,
                    module__n_sexes=X["sex"].nunique() + 1,
                    max_epochs=40,
                    batch_size=32,
                    lr=0.01,
                    random_state=0,
                ),
            ),
        ]
    )
    model.fit(X_train, y_train)
    print("codes per column:", model.named_steps["codes"].n_codes_)
    print(f"test accuracy: {accuracy_score(y_test, model.predict(X_test)):.3f}")
    print("first predictions:", model.predict(X_test[:5]).tolist())


if __name__ == "__main__":
    main()
