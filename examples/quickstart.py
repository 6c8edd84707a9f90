"""Classify penguin species with a Message pipeline tuned by GridSearchCV.

Runs offline in a few seconds: the data ships with fireworks_sk, missing
values included (Impute fills the measurements; a missing sex is a category).

    python examples/quickstart.py
"""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import classification_report
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from fireworks_sk import BatchNormalizer, Impute, OneHot, Stack
from fireworks_sk.datasets import load_penguins


def main() -> None:
    penguins = load_penguins()
    X, y = penguins.drop(columns="species"), penguins["species"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    pipeline = Pipeline(
        [
            ("impute", Impute()),  # the mean of every numeric column
            ("scale", BatchNormalizer()),  # every numeric column
            # (n, k) float tensors; a missing sex is one more category.
            ("onehot", OneHot(["island", "sex"], missing="category")),
            ("stack", Stack(into="features")),  # one (n, k) float tensor
            ("model", LogisticRegression(max_iter=1000)),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"scale__with_std": [True, False], "model__C": [0.01, 0.1, 1.0]},
        cv=5,
    )
    search.fit(X_train, y_train)
    print(f"best parameters: {search.best_params_}")
    print(f"cross-validated accuracy: {search.best_score_:.3f}")
    print(classification_report(y_test, search.predict(X_test), digits=3))


if __name__ == "__main__":
    main()
