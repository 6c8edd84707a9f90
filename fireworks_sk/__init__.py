"""fireworks_sk: reproducible machine-learning pipelines on PyTorch and scikit-learn."""

from fireworks_sk.exceptions import FireworksError, NotFittedError, SchemaError
from fireworks_sk.message import Message
from fireworks_sk.pipes import (
    BatchNormalizer,
    DropColumns,
    FunctionPipe,
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
    "IndexEncoder",
    "Junction",
    "Message",
    "NotFittedError",
    "OneHot",
    "Pipe",
    "SchemaError",
    "SelectColumns",
    "Stack",
    "ToTensor",
    "__version__",
    "fit_stream",
    "predict_stream",
    "transform_stream",
    "write_parquet",
    "write_sql",
]
