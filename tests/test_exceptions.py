"""Every exception lives in fireworks_sk.exceptions; the modules that raise
them re-export them, so the import paths users know keep working."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import pytest
import sklearn.exceptions
from skorch.exceptions import NotInitializedError

from fireworks_sk import exceptions, persistence, runs
from fireworks_sk.estimators import _guards

MOVED = [
    (persistence, "CorruptFileError"),
    (persistence, "UntrustedTypesError"),
    (persistence, "VersionMismatchWarning"),
    (runs, "ConfigError"),
    (runs, "RunError"),
    (_guards, "NetNotFittedError"),
]


@pytest.mark.parametrize(("module", "name"), MOVED)
def test_old_import_path_gives_the_class_of_exceptions_module(module, name):
    cls = getattr(exceptions, name)
    assert getattr(module, name) is cls
    assert cls.__module__ == "fireworks_sk.exceptions"
    assert name in exceptions.__all__ and name in module.__all__


def test_every_exception_class_is_defined_in_exceptions_module():
    import fireworks_sk

    defined = []
    for info in pkgutil.walk_packages(fireworks_sk.__path__, "fireworks_sk."):
        if info.name == "fireworks_sk.__main__":  # runs the command line
            continue
        module = importlib.import_module(info.name)
        defined += [
            f"{info.name}.{name}"
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, (Exception, Warning))
            and value.__module__ == info.name
        ]
    assert defined
    assert all(name.startswith("fireworks_sk.exceptions.") for name in defined), [
        name for name in defined if not name.startswith("fireworks_sk.exceptions.")
    ]


def test_errors_subclass_fireworks_error_and_their_library_equivalents():
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        if issubclass(cls, Exception) and not issubclass(cls, Warning):
            assert issubclass(cls, exceptions.FireworksError), name
    assert issubclass(exceptions.NetNotFittedError, NotInitializedError)
    assert issubclass(exceptions.NetNotFittedError, sklearn.exceptions.NotFittedError)
    assert issubclass(exceptions.CorruptFileError, ValueError)
    assert issubclass(exceptions.UntrustedTypesError, TypeError)
    assert issubclass(exceptions.VersionMismatchWarning, UserWarning)


def test_an_error_pickled_under_its_old_path_still_loads():
    # A pickle names the class by module and name; the old modules keep the
    # names, so an error pickled before the move (by a worker process, say)
    # loads as the same class.
    # Protocol 0 names it as text (no length prefix), so it can be edited.
    data = pickle.dumps(exceptions.CorruptFileError("bad file"), protocol=0)
    old = data.replace(b"fireworks_sk.exceptions", b"fireworks_sk.persistence")
    assert old != data
    loaded = pickle.loads(old)
    assert type(loaded) is exceptions.CorruptFileError
    assert str(loaded) == "bad file"


def test_request_error_carries_the_status_the_server_answers_with():
    from fireworks_sk.exceptions import FireworksError, RequestError

    error = RequestError(413, "The request body is over the 10-byte limit.")
    assert isinstance(error, FireworksError) and isinstance(error, ValueError)
    assert error.status == 413 and "10-byte" in str(error)
