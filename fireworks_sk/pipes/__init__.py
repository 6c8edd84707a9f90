"""Preprocessing Pipes: scikit-learn transformers that take and return Messages."""

from fireworks_sk.pipes._base import Pipe, StatefulPipe
from fireworks_sk.pipes._columns import (
    DropColumns,
    FunctionPipe,
    SelectColumns,
    Stack,
    ToTensor,
)
from fireworks_sk.pipes._encode import IndexEncoder, OneHot
from fireworks_sk.pipes._impute import Impute
from fireworks_sk.pipes._junction import Junction
from fireworks_sk.pipes._normalize import BatchNormalizer

__all__ = [
    "BatchNormalizer",
    "DropColumns",
    "FunctionPipe",
    "Impute",
    "IndexEncoder",
    "Junction",
    "OneHot",
    "Pipe",
    "SelectColumns",
    "Stack",
    "StatefulPipe",
    "ToTensor",
]
