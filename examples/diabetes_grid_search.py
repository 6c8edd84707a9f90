"""Tune a torch regressor and its preprocessing together with GridSearchCV.

scikit-learn's bundled diabetes data (442 patients, 10 features): the grid
searches a Pipe parameter (``scale__with_std``: the features ship already
scaled to a small range) and a net parameter (the learning rate) in one
search, because the whole
Pipeline is one scikit-learn estimator.

    python examples/diabetes_grid_search.py
"""

from __future__ import annotations

from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fireworks_sk import BatchNormalizer, Stack, TorchRegressor


def main() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    pipeline = Pipeline(
        [
            ("scale", BatchNormalizer()),
            ("stack", Stack(into="features")),
            (
                "net",
                TorchRegressor(
                    max_epochs=20,
                    batch_size=64,
                    module__hidden_units=(32,),
                    random_state=0,
                ),
            ),
        ]
    )
    # The network trains on a standardised target; predictions come back in
    # the target's own units.
    model = TransformedTargetRegressor(pipeline, transformer=StandardScaler())
    grid = {
        "regressor__net__lr": [0.003, 0.03],
        "regressor__scale__with_std": [True, False],
    }
    search = GridSearchCV(model, grid, cv=3, scoring="r2")
    search.fit(X_train, y_train)
    print(f"best parameters: {search.best_params_}")
    print(f"cross-validated r2: {search.best_score_:.3f}")
    print(f"test r2: {r2_score(y_test, search.predict(X_test)):.3f}")


if __name__ == "__main__":
    main()
