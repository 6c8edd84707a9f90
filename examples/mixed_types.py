"""scikit-learn's "Column Transformer with Mixed Types", ported to Pipes.

The penguins keep their missing values (2 rows without measurements, 11
without a sex). Numeric columns are imputed with their mean and
standardised; the island and sex become one-hot indicators, a missing sex
being a category of its own, as scikit-learn's OneHotEncoder treats it.
The same pipeline is written twice, with columns chosen by name and by
dtype (make_column_selector), and scored beside scikit-learn's own
ColumnTransformer version on the same split, then tuned with GridSearchCV.

    python examples/mixed_types.py
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from fireworks_sk import BatchNormalizer, Impute, OneHot, Stack
from fireworks_sk.datasets import load_penguins

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]


def fireworks_pipeline(numeric, categorical) -> Pipeline:
    """Pipes on the named (or selected) columns, then a logistic regression."""
    return Pipeline(
        [
            ("impute", Impute(numeric)),
            ("scale", BatchNormalizer(numeric)),
            (
                "onehot",
                OneHot(categorical, handle_unknown="ignore", missing="category"),
            ),
            ("stack", Stack(into="features")),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]
    ).set_output(transform="pandas")


def sklearn_pipeline(numeric, categorical) -> Pipeline:
    """scikit-learn's own version: a ColumnTransformer in front of the model."""
    numeric_transformer = Pipeline(
        [("imputer", SimpleImputer(strategy="mean")), ("scaler", StandardScaler())]
    )
    preprocessor = ColumnTransformer(
        [
            ("num", numeric_transformer, numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline(
        [
            ("preprocessor", preprocessor),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]
    )


def main() -> None:
    penguins = load_penguins()
    gaps = int(penguins.isna().any(axis=1).sum())
    print(f"penguins: {len(penguins)} rows, {gaps} with a missing value (kept)")
    X, y = penguins.drop(columns=["species", "year"]), penguins["species"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )

    numbers = make_column_selector(dtype_include="number")
    text = make_column_selector(dtype_exclude="number")
    print(f"{'columns chosen':<16}{'fireworks_sk':>14}{'scikit-learn':>14}")
    for label, numeric, categorical in [
        ("by name", NUMERIC, CATEGORICAL),
        ("by dtype", numbers, text),
    ]:
        ours = fireworks_pipeline(numeric, categorical).fit(X_train, y_train)
        theirs = sklearn_pipeline(numeric, categorical).fit(X_train, y_train)
        print(
            f"{label:<16}{ours.score(X_test, y_test):>14.3f}"
            f"{theirs.score(X_test, y_test):>14.3f}"
        )
    print(f"selected by dtype: {ours.named_steps['onehot'].columns_}")

    # The example's grid search: the imputation strategy and the regularisation.
    strategies = ["mean", "most_frequent"]
    Cs = [0.1, 1.0, 10.0]
    ours = GridSearchCV(
        fireworks_pipeline(NUMERIC, CATEGORICAL),
        {"impute__strategy": strategies, "classifier__C": Cs},
        cv=5,
    ).fit(X_train, y_train)
    theirs = GridSearchCV(
        sklearn_pipeline(NUMERIC, CATEGORICAL),
        {
            "preprocessor__num__imputer__strategy": strategies,
            "classifier__C": Cs,
        },
        cv=5,
    ).fit(X_train, y_train)
    print(
        f"{'grid search':<16}{ours.score(X_test, y_test):>14.3f}"
        f"{theirs.score(X_test, y_test):>14.3f}"
    )
    print(f"{'  its CV score':<16}{ours.best_score_:>14.3f}{theirs.best_score_:>14.3f}")
    print(f"best parameters: {ours.best_params_}")


if __name__ == "__main__":
    main()
