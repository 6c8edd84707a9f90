"""fireworks_sk: reproducible machine-learning pipelines on PyTorch and scikit-learn."""

from fireworks_sk.cluster import local_cluster
from fireworks_sk.estimators import (
    MessageLoader,
    TorchClassifier,
    TorchRegressor,
    plot_history,
)
from fireworks_sk.exceptions import FireworksError, NotFittedError, SchemaError
from fireworks_sk.message import Message
from fireworks_sk.persistence import inspect, load, save
from fireworks_sk.pipes import (
    BatchNormalizer,
    DropColumns,
    FunctionPipe,
    Impute,
    IndexEncoder,
    Junction,
    OneHot,
    Pipe,
    SelectColumns,
    Stack,
    ToTensor,
)
from fireworks_sk.stream import (
    fit_stream,
    predict_stream,
    transform_stream,
    write_parquet,
    write_sql,
)

__version__ = "0.1.0"

__all__ = [
    "BatchNormalizer",
    "DropColumns",
    "FireworksError",
    "FunctionPipe",
    "Impute",
    "IndexEncoder",
    "Junction",
    "Message",
    "MessageLoader",
    "NotFittedError",
    "OneHot",
    "Pipe",
    "SchemaError",
    "SelectColumns",
    "Stack",
    "ToTensor",
    "TorchClassifier",
    "TorchRegressor",
    "__version__",
    "fit_stream",
    "inspect",
    "load",
    "local_cluster",
    "plot_history",
    "predict_stream",
    "save",
    "transform_stream",
    "write_parquet",
    "write_sql",
]
