"""Security: bound SQL parameters, configs that are never code, safe loading."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sqlite3
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import fireworks_sk as fsk
from fireworks_sk.cli import main
from fireworks_sk.persistence import CorruptFileError, UntrustedTypesError
from fireworks_sk.sources import SQLSource

INJECTIONS = [
    "x'; DROP TABLE t; --",
    "' OR '1'='1",
    "s1' UNION SELECT name, sql FROM sqlite_master --",
    'x"); DELETE FROM t; --',
]


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute("create table t(a real, b text)")
        connection.executemany(
            "insert into t values(?, ?)", [(i, f"s{i}") for i in range(5)]
        )
    return path


def _rows(path, table="t"):
    with sqlite3.connect(path) as connection:
        return connection.execute(f'select count(*) from "{table}"').fetchone()[0]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sql_source_binds_parameters_so_injections_match_nothing(database, injection):
    source = SQLSource(
        f"sqlite:///{database}", "select * from t where b = :b", 2, {"b": injection}
    )
    assert list(source) == []
    assert _rows(database) == 5
    # The same query still finds a real value: the parameter is compared, not run.
    found = SQLSource(
        f"sqlite:///{database}", "select * from t where b = :b", 2, {"b": "s3"}
    )
    assert [m["a"].tolist() for m in found] == [[3.0]]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sql_errors_name_the_parameters_but_not_their_values(database, injection):
    source = SQLSource(
        f"sqlite:///{database}", "select * from nope where b = :b", 2, {"b": injection}
    )
    with pytest.raises(fsk.FireworksError, match=r"Bound parameters: \['b'\]") as info:
        list(source)
    assert injection not in str(info.value)


def test_write_sql_quotes_the_table_name(database):
    hostile = 't"; DROP TABLE t; --'
    written = fsk.write_sql(
        [pd.DataFrame({"p": [1.0, 2.0]})], f"sqlite:///{database}", hostile
    )
    assert written == 2
    assert _rows(database) == 5
    assert _rows(database, hostile.replace('"', '""')) == 2


# ----------------------------------------------------------------- configs
CODE = "__import__('os').mkdir('pwned')"


def _config(**overrides):
    sections = {
        "data": "[data]\nsource = 'penguins'\ntarget = 'species'\ndropna = true\n",
        "steps": "[[steps]]\ntype = 'BatchNormalizer'\n[[steps]]\ntype = 'Stack'\n",
        "model": "[model]\ntype = 'TorchClassifier'\nparams = { max_epochs = 1 }\n",
        "search": "[search]\ncv = 2\n",
    }
    sections.update(overrides)
    return "seed = 0\noutput = 'out'\n" + "".join(sections.values())


CODE_CONFIGS = {
    "step type": {"steps": f'[[steps]]\ntype = "{CODE}"\n'},
    "model type": {"model": f'[model]\ntype = "{CODE}"\n'},
    "step params": {
        "steps": '[[steps]]\ntype = "BatchNormalizer"\n'
        f'params = {{ columns = "{CODE}" }}\n'
        "[[steps]]\ntype = 'Stack'\n"
    },
    "model params": {
        "model": f'[model]\ntype = "TorchClassifier"\nparams = {{ lr = "{CODE}" }}\n'
    },
    "grid": {"search": f'[search]\ncv = 2\n[search.grid]\n"model__lr" = ["{CODE}"]\n'},
    "target": {"data": f'[data]\nsource = "penguins"\ntarget = "{CODE}"\n'},
    "source": {"data": f'[data]\nsource = "{CODE}"\ntarget = "species"\n'},
    "scoring": {"search": f'[search]\ncv = 2\nscoring = "{CODE}"\n'},
}


@pytest.mark.parametrize("where", sorted(CODE_CONFIGS))
def test_cli_never_evaluates_config_values(tmp_path, monkeypatch, capsys, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(_config(**CODE_CONFIGS[where]))
    status = main(["train", "run.toml"])
    assert not (tmp_path / "pwned").exists()
    # Refused with one error line (or, for a grid value, failed inside the fit).
    assert status == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("fireworks-sk: error:")


def test_the_same_config_without_code_trains(tmp_path, monkeypatch):
    # The control of the test above: the config is otherwise valid.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.toml").write_text(_config())
    assert main(["train", "run.toml"]) == 0
    assert (tmp_path / "out" / "model.fwsk").is_file()


# ----------------------------------------------------------------- loading
class _RunsCode:
    """Pickles to a call of os.mkdir: loading it with pickle runs that call."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


def test_joblib_files_run_code_on_load_and_inspect_does_not(tmp_path):
    marker = tmp_path / "ran"
    path = fsk.save(_RunsCode(marker), tmp_path / "evil.fwsk")
    manifest = fsk.inspect(path)
    assert manifest["format"] == "joblib"
    assert not marker.exists()
    assert main(["inspect", "--manifest-only", str(path)]) == 0
    assert not marker.exists()
    # What docs/reliability.md warns about: load runs the pickled call.
    fsk.load(path)
    assert marker.exists()


def test_skops_refuses_a_function_it_does_not_trust(tmp_path):
    pipe = fsk.FunctionPipe(func=os.mkdir)
    path = fsk.save(pipe, tmp_path / "f.fwsk", format="skops")
    with pytest.raises(UntrustedTypesError, match=r"mkdir"):
        fsk.load(path)


def _forge(path: Path, payload: bytes) -> None:
    """Put ``payload`` in a saved file and fix its manifest, as an attacker could."""
    with zipfile.ZipFile(path) as outer:
        manifest = json.loads(outer.read("manifest.json"))
    manifest["sha256"] = hashlib.sha256(payload).hexdigest()
    manifest["payload_bytes"] = len(payload)
    with zipfile.ZipFile(path, "w") as outer:
        outer.writestr("manifest.json", json.dumps(manifest))
        outer.writestr("payload", payload)


def _rewrite_skops_payload(path: Path, old: str, new: str) -> None:
    """Edit a skops file's schema and fix its checksum, as an attacker could."""
    with zipfile.ZipFile(path) as outer:
        payload = outer.read("payload")
    inner_in, inner_out = zipfile.ZipFile(io.BytesIO(payload)), io.BytesIO()
    with zipfile.ZipFile(inner_out, "w") as rewritten:
        for name in inner_in.namelist():
            data = inner_in.read(name)
            if name == "schema.json":
                assert old.encode() in data
                data = data.replace(old.encode(), new.encode())
            rewritten.writestr(name, data)
    _forge(path, inner_out.getvalue())


def test_skops_file_naming_a_torch_function_as_a_dtype_is_refused(tmp_path):
    pipe = fsk.ToTensor(dtype=torch.float32).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    path = fsk.save(pipe, tmp_path / "t.fwsk", format="skops")
    assert fsk.load(path).dtype is torch.float32
    _rewrite_skops_payload(path, '\\"float32\\"', '\\"load\\"')
    with pytest.raises(ValueError, match="'load' is not a torch dtype"):
        fsk.load(path)


def _record_lookups(monkeypatch, module):
    """Names looked up on ``module`` beyond its own attributes: its module
    ``__getattr__`` is what imports submodules and calls functions."""
    asked = []

    def lookup(name):
        asked.append(name)
        raise AttributeError(name)

    monkeypatch.setattr(module, "__getattr__", lookup, raising=False)
    return asked


@pytest.mark.parametrize("name", ["_inductor", "has_cuda", "onnx", "not_a_dtype"])
def test_a_dtype_name_in_a_file_is_never_looked_up_on_torch(
    tmp_path, monkeypatch, name
):
    pipe = fsk.ToTensor(dtype=torch.float32).fit(pd.DataFrame({"a": [1.0, 2.0]}))
    path = fsk.save(pipe, tmp_path / "t.fwsk", format="skops")
    _rewrite_skops_payload(path, '\\"float32\\"', f'\\"{name}\\"')
    asked = _record_lookups(monkeypatch, torch)
    with pytest.raises(ValueError, match=f"'{name}' is not a torch dtype"):
        fsk.load(path)
    assert asked == []


@pytest.mark.parametrize("name", ["f2py", "testing", "not_a_type"])
def test_a_scalar_type_name_in_a_file_is_never_looked_up_on_numpy(
    tmp_path, monkeypatch, name
):
    from sklearn.compose import make_column_selector

    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    selector = make_column_selector(dtype_include=np.number)
    pipe = fsk.BatchNormalizer(columns=selector).fit(df)
    path = fsk.save(pipe, tmp_path / "s.fwsk", format="skops")
    assert fsk.load(path).columns.dtype_include is np.number
    _rewrite_skops_payload(path, '\\"numpy.number\\"', f'\\"numpy.{name}\\"')
    asked = _record_lookups(monkeypatch, np)
    with pytest.raises(ValueError, match=f"'numpy.{name}' is not a scalar type"):
        fsk.load(path)
    assert asked == []


def test_skops_loading_of_pipes_needs_no_trust(tmp_path):
    df = pd.DataFrame({"x": np.arange(4.0), "c": list("abab")})
    pipe = fsk.Junction([fsk.BatchNormalizer(), fsk.OneHot(columns=["c"])]).fit(df)
    loaded = fsk.load(fsk.save(pipe, tmp_path / "j.fwsk", format="skops"))
    assert loaded.transform(df).equals(pipe.transform(df))


def test_trusted_does_not_apply_to_joblib_files(tmp_path):
    path = fsk.save({"a": 1}, tmp_path / "m.fwsk")
    with pytest.raises(ValueError, match="'trusted' applies to skops files only"):
        fsk.load(path, trusted=["builtins.dict"])


@pytest.mark.parametrize("injection", INJECTIONS)
def test_sql_source_binds_parameters_on_postgres(pg_url, injection):
    import sqlalchemy as sa

    table = "fwsk_reliability_injection"
    engine = sa.create_engine(pg_url)
    try:
        pd.DataFrame({"a": [0.0, 1.0], "b": ["s0", "s1"]}).to_sql(
            table, engine, if_exists="replace", index=False
        )
        query = f"select * from {table} where b = :b"
        assert list(SQLSource(engine, query, 2, {"b": injection})) == []
        assert [len(m) for m in SQLSource(engine, query, 2, {"b": "s1"})] == [1]
        with engine.connect() as connection:
            count = connection.execute(sa.text(f"select count(*) from {table}"))
            assert count.scalar() == 2
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"drop table if exists {table}"))
        engine.dispose()


# ------------------------------------------------- crafted skops files
# A skops file is a tree of nodes, each naming what it resolves (a module and
# a name) and how (a function, a type, an instance, an attribute of another
# node, a call). The files below aim at os.system through every fireworks_sk
# module, as an attacker would, and try each kind of node. Trust goes by
# whole name, so each one must be refused, list what it names, and run nothing.
try:
    import skops.io as skops_io
except ImportError:  # the extra "secure"
    skops_io = None
needs_skops = pytest.mark.skipif(skops_io is None, reason="needs skops")


def _skops_protocol():
    """The protocol number skops writes, read from a file it wrote."""
    with zipfile.ZipFile(io.BytesIO(skops_io.dumps(0))) as archive:
        return json.loads(archive.read("schema.json"))["protocol"]


def _modules():
    import importlib
    import pkgutil

    names = ["fireworks_sk"] + [
        info.name
        for info in pkgutil.walk_packages(fsk.__path__, "fireworks_sk.")
        if not info.name.endswith("__main__")
    ]
    return {name: importlib.import_module(name) for name in names}


def _route_to_system(module):
    """The shortest attribute chain from ``module`` to os.system, e.g.
    ``["contextlib", "os", "system"]``, through modules only."""
    queue, seen = [(module, [])], {id(module)}
    while queue:
        here, chain = queue.pop(0)
        if getattr(here, "system", None) is os.system:
            return [*chain, "system"]
        if len(chain) < 4:
            with warnings.catch_warnings():  # torch warns on a deprecated alias
                warnings.simplefilter("ignore")
                modules = [
                    (name, value)
                    for name, value in sorted(vars(here).items())
                    if isinstance(value, type(os))
                ]
            for name, value in modules:
                if id(value) not in seen:
                    seen.add(id(value))
                    queue.append((value, [*chain, name]))
    return None


ROUTES = {
    name: route
    for name, module in _modules().items()
    if (route := _route_to_system(module)) is not None
}


def _node(loader, module, name, **content):
    return {"__class__": name, "__module__": module, "__loader__": loader, **content}


def _json(value):
    return _node(
        "JsonNode", "builtins", type(value).__name__, content=json.dumps(value)
    )


def _tuple(*items):
    return _node("TupleNode", "builtins", "tuple", content=list(items))


def _attribute(node, name):
    """A MethodNode: ``getattr(<what node builds>, name)``."""
    return {
        "__class__": node["__class__"],
        "__module__": node["__module__"],
        "__loader__": "MethodNode",
        "content": {"func": name, "obj": node},
    }


def _follow(node, chain):
    for name in chain:
        node = _attribute(node, name)
    return node


def _call_on_keys(callee, command, container="ListNode"):
    """A DictNode calls each of its ``key_types`` on its key: callee(command)."""
    kind = {"ListNode": "list", "TupleNode": "tuple", "SetNode": "set"}[container]
    key_types = _node(container, "builtins", kind, content=[callee])
    return _node(
        "DictNode", "builtins", "dict", content={command: _json(0)}, key_types=key_types
    )


SPRINGBOARD = "fireworks_sk.pipes._normalize.BatchNormalizer"  # trusted exactly


def _first_hop(kind, module, name):
    """A node of ``kind`` that builds ``getattr(module, name)``."""
    if kind == "ObjectNode":
        # An instance of a trusted class whose state holds the module's
        # attribute, read back with a MethodNode.
        state = _node(
            "DictNode",
            "builtins",
            "dict",
            content={"hop": _node("FunctionNode", module, name)},
            key_types=_node(
                "ListNode",
                "builtins",
                "list",
                content=[_node("TypeNode", "builtins", "str")],
            ),
        )
        module_name, _, class_name = SPRINGBOARD.rpartition(".")
        instance = _node("ObjectNode", module_name, class_name, content=state)
        return _attribute(instance, "hop")
    return _node(kind, module, name)


def _skops_file(tmp_path, schema, members=None):
    """A fireworks_sk skops file whose payload is the crafted ``schema``."""
    path = fsk.save(
        fsk.BatchNormalizer(), tmp_path / "model.skops.fwsk", format="skops"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as payload:
        document = {**schema, "protocol": _skops_protocol(), "_skops_version": "0"}
        payload.writestr("schema.json", json.dumps(document))
        for name, data in (members or {}).items():
            payload.writestr(name, data)
    _forge(path, buffer.getvalue())
    return path


def _assert_refused_and_nothing_ran(path, marker, *names):
    with pytest.raises(UntrustedTypesError, match="not trusted") as info:
        fsk.load(path)
    assert not marker.exists()
    for name in names:
        assert repr(name) in str(info.value)


@needs_skops
@pytest.mark.parametrize("kind", ["FunctionNode", "TypeNode", "ObjectNode"])
@pytest.mark.parametrize("module", sorted(ROUTES))
def test_skops_attribute_chains_through_our_modules_are_refused(tmp_path, module, kind):
    marker = tmp_path / "ran"
    first, *rest = ROUTES[module]
    system = _follow(_first_hop(kind, module, first), rest)
    path = _skops_file(tmp_path, _call_on_keys(system, f"touch {marker}"))
    assert skops_io.get_untrusted_types(data=zipfile.ZipFile(path).read("payload"))
    named = f"{module}.{first}"
    _assert_refused_and_nothing_ran(path, marker, named)


def test_our_modules_lead_to_os_system_so_the_chains_are_real():
    # The control of the test above: without the routes it would test nothing.
    assert {"fireworks_sk.pipes._base", "fireworks_sk.message"} <= set(ROUTES)
    assert ROUTES["fireworks_sk.pipes._base"] == ["contextlib", "os", "system"]


@needs_skops
def test_a_method_chain_names_every_attribute_it_reads(tmp_path):
    # fireworks_sk.pipes._base.contextlib.os.system, the route a prefix
    # "fireworks_sk.pipes." let through.
    marker = tmp_path / "ran"
    system = _follow(
        _node("TypeNode", "fireworks_sk.pipes._base", "contextlib"), ["os", "system"]
    )
    path = _skops_file(tmp_path, _call_on_keys(system, f"touch {marker}"))
    _assert_refused_and_nothing_ran(
        path,
        marker,
        "fireworks_sk.pipes._base.contextlib",
        "fireworks_sk.pipes._base.contextlib.os",
        "fireworks_sk.pipes._base.contextlib.system",
    )


SYSTEM = ["fireworks_sk.pipes._base", "contextlib", "os", "system"]


def _system_via_base():
    return _follow(_node("TypeNode", *SYSTEM[:2]), SYSTEM[2:])


def _cached(command):
    # The first dict holds the route under an id and calls nothing (no keys);
    # the second calls it through a CachedNode, which names nothing itself.
    original = {**_system_via_base(), "__id__": 7}
    cached = {"__class__": "x", "__module__": "x", "__loader__": "CachedNode"}
    return _node(
        "ListNode",
        "builtins",
        "list",
        content=[
            _node(
                "DictNode",
                "builtins",
                "dict",
                content={},
                key_types=_node("ListNode", "builtins", "list", content=[original]),
            ),
            _call_on_keys({**cached, "__id__": 7}, command),
        ],
    )


def _npy(text):
    buffer = io.BytesIO()
    np.save(buffer, np.array(text), allow_pickle=False)
    return buffer.getvalue()


CALLERS = {
    # name: (schema for a command, extra payload members, names listed)
    "DictNode key_types": (
        lambda cmd: _call_on_keys(_node("TypeNode", "os", "system"), cmd),
        {},
        ["os.system"],
    ),
    "TupleNode key_types": (
        lambda cmd: _call_on_keys(_system_via_base(), cmd, "TupleNode"),
        {},
        ["fireworks_sk.pipes._base.contextlib"],
    ),
    "SetNode key_types": (
        lambda cmd: _call_on_keys(_system_via_base(), cmd, "SetNode"),
        {},
        ["fireworks_sk.pipes._base.contextlib"],
    ),
    "FunctionNode": (
        lambda cmd: _call_on_keys(_node("FunctionNode", "os", "system"), cmd),
        {},
        ["os.system"],
    ),
    "PartialNode": (
        lambda cmd: _call_on_keys(
            _node(
                "PartialNode",
                "functools",
                "partial",
                content={
                    "func": _system_via_base(),
                    "args": _tuple(),
                    "kwds": _node(
                        "DictNode",
                        "builtins",
                        "dict",
                        content={},
                        key_types=_node("ListNode", "builtins", "list", content=[]),
                    ),
                    "namespace": _json(None),
                },
            ),
            cmd,
        ),
        {},
        ["functools.partial", "fireworks_sk.pipes._base.contextlib.system"],
    ),
    "CachedNode": (_cached, {}, ["fireworks_sk.pipes._base.contextlib.os"]),
    "ConstructorFromReduceNode": (
        lambda cmd: _node(
            "ConstructorFromReduceNode", "os", "system", content=_tuple(_json(cmd))
        ),
        {},
        ["os.system"],
    ),
    "ReduceNode (LossNode)": (
        lambda cmd: _node(
            "LossNode",
            "fireworks_sk.pipes._base",
            "system",
            __reduce__={"args": _tuple(_json(cmd))},
            content=_json({}),
        ),
        {},
        ["fireworks_sk.pipes._base.system"],
    ),
    "ReduceNode (TreeNode)": (
        lambda cmd: _node(
            "TreeNode",
            "sklearn.tree._tree",
            "Tree",
            __reduce__={"args": _tuple(_call_on_keys(_system_via_base(), cmd))},
            content=_json({}),
        ),
        {},
        ["sklearn.tree._tree.Tree", "fireworks_sk.pipes._base.contextlib.system"],
    ),
    "OperatorFuncNode": (
        lambda cmd: _call_on_keys(
            _node(
                "OperatorFuncNode",
                "operator",
                "attrgetter",
                attrs=_tuple(_json("__class__")),
            ),
            cmd,
        ),
        {},
        ["operator.attrgetter"],
    ),
    "NdArrayNode": (
        lambda cmd: _node(
            "NdArrayNode", "fireworks_sk.message", "os", type="numpy", file="a.npy"
        ),
        {"a.npy": _npy("x")},
        ["fireworks_sk.message.os"],
    ),
    "NdArrayNode items": (
        lambda cmd: _node(
            "NdArrayNode",
            "numpy",
            "ndarray",
            type="json",
            content=[_call_on_keys(_system_via_base(), cmd)],
            shape=_tuple(_json(1)),
        ),
        {},
        ["fireworks_sk.pipes._base.contextlib.system"],
    ),
    "DefaultDictNode": (
        lambda cmd: _node(
            "DefaultDictNode",
            "collections",
            "defaultdict",
            content={
                "main": _call_on_keys(_system_via_base(), cmd),
                "default_factory": _system_via_base(),
            },
        ),
        {},
        ["fireworks_sk.pipes._base.contextlib.os"],
    ),
    "MethodNode of a trusted Pipe": (
        lambda cmd: _call_on_keys(
            _attribute(
                _node(
                    "ObjectNode",
                    "fireworks_sk.pipes._columns",
                    "FunctionPipe",
                    content=_json({}),
                ),
                "set_params",
            ),
            cmd,
        ),
        {},
        ["fireworks_sk.pipes._columns.FunctionPipe.set_params"],
    ),
}


@needs_skops
@pytest.mark.parametrize("node", sorted(CALLERS))
def test_skops_nodes_that_call_or_hold_os_system_are_refused(tmp_path, node):
    marker = tmp_path / "ran"
    schema, members, names = CALLERS[node]
    path = _skops_file(tmp_path, schema(f"touch {marker}"), members)
    _assert_refused_and_nothing_ran(path, marker, *names)


@needs_skops
def test_trusted_names_are_exact_never_prefixes(tmp_path):
    marker = tmp_path / "ran"
    path = _skops_file(tmp_path, _call_on_keys(_system_via_base(), f"touch {marker}"))
    with pytest.raises(UntrustedTypesError, match="contextlib"):
        fsk.load(path, trusted=["fireworks_sk.pipes.", "fireworks_sk.pipes._base"])
    assert not marker.exists()


def test_default_trust_is_our_classes_by_their_exact_names():
    from importlib import import_module

    from fireworks_sk.persistence import _own_types
    from fireworks_sk.schema import Schema

    names = _own_types()
    assert "fireworks_sk.message.Message" in names
    assert "fireworks_sk.schema.Schema" in names
    assert "fireworks_sk.pipes._normalize.BatchNormalizer" in names
    for name in names:
        module, _, attribute = name.rpartition(".")
        cls = getattr(import_module(module), attribute)
        assert isinstance(cls, type) and cls.__module__ == module, name
        assert issubclass(cls, (fsk.Pipe, fsk.Message, Schema)), name


@needs_skops
def test_cli_inspect_and_predict_refuse_a_crafted_skops_file(tmp_path, capsys):
    marker = tmp_path / "ran"
    path = _skops_file(tmp_path, _call_on_keys(_system_via_base(), f"touch {marker}"))
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "data.csv", index=False)
    for argv in (
        ["inspect", str(path)],
        ["predict", str(path), str(tmp_path / "data.csv")],
    ):
        assert main(argv) == 1
        assert not marker.exists()
        assert "are not trusted" in capsys.readouterr().err


@needs_skops
def test_the_crafted_route_runs_code_when_trusted(tmp_path):
    # The control of the tests above: the files are real attacks. Trusting
    # the names they list, as a prefix trust did, runs the command.
    marker = tmp_path / "ran"
    path = _skops_file(tmp_path, _call_on_keys(_system_via_base(), f"touch {marker}"))
    payload = zipfile.ZipFile(path).read("payload")
    names = skops_io.get_untrusted_types(data=payload)
    with contextlib.suppress(Exception):
        fsk.load(path, trusted=names)
    assert marker.exists()


# --------------------------------------------- the cost of auditing a file
# skops builds one node per ``__id__``, but its audit walks every reference to
# a node again, and each node naming a member reads that member again. A small
# file of references would cost exponential time or many times its own size.
def _shared_list(depth):
    """Lists nested ``depth`` deep, each holding the one below it twice: one
    full copy and one bare reference to its ``__id__``. Auditing walks 2**depth
    nodes; the file holds about 2 * depth."""
    node = {**_json(0), "__id__": 1}
    for level in range(2, depth + 2):
        node = {
            **_node(
                "ListNode", "builtins", "list", content=[node, {"__id__": level - 1}]
            ),
            "__id__": level,
        }
    return node


@needs_skops
def test_a_schema_of_nested_references_is_refused_before_skops_audits_it(tmp_path):
    # 60 levels: 3 kB that skops' audit would walk for longer than the universe.
    path = _skops_file(tmp_path, _shared_list(60))
    with pytest.raises(CorruptFileError, match="model.skops.fwsk.*out of proportion"):
        fsk.load(path)


@needs_skops
@pytest.mark.parametrize("loader", ["NdArrayNode", "BytesNode"])
def test_a_member_read_by_many_nodes_is_refused_before_it_is_read(tmp_path, loader):
    # A thousand nodes naming one 1 MB member would take 1 GB, twice.
    content = {"type": "numpy"} if loader == "NdArrayNode" else {}
    readers = [
        {**_node(loader, "builtins", "bytes", file="a.npy", **content), "__id__": i + 2}
        for i in range(1000)
    ]
    members = {"a.npy": _npy(np.zeros(2**17))}
    path = _skops_file(
        tmp_path, _node("ListNode", "builtins", "list", content=readers), members
    )
    with pytest.raises(CorruptFileError, match="'a.npy' is read by 1000 nodes"):
        fsk.load(path)


@needs_skops
def test_shared_objects_of_a_real_model_still_load(tmp_path):
    # The control of the tests above: a model whose state shares objects (the
    # same array and estimator under two names) is written in full each time
    # and loads.
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    model = VotingClassifier([("a", LogisticRegression()), ("b", LogisticRegression())])
    model.fit(X, y)
    model.shared_ = {"x": model.estimators_[0].coef_, "y": model.estimators_[0].coef_}
    path = fsk.save(model, tmp_path / "v.fwsk", format="skops")
    loaded = fsk.load(path, trusted=["sklearn.utils._bunch.Bunch"])
    assert loaded.named_estimators_["a"] is loaded.estimators_[0]
    assert np.array_equal(loaded.predict(X), model.predict(X))


def _array_header(shape, descr):
    """The bytes of a .npy file that states ``shape`` and holds no data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return header.getvalue()


@needs_skops
@pytest.mark.parametrize("member", ["a.npy", "a.bin", "a"])
def test_an_array_stating_more_than_it_holds_is_refused_whatever_its_name(
    tmp_path, member
):
    # numpy reads any member a node names, and allocates the size its header
    # states (64 GiB here) before reading: the member's name proves nothing.
    array = _node("NdArrayNode", "numpy", "ndarray", type="numpy", file=member)
    path = _skops_file(
        tmp_path, array, {member: _array_header((2**33,), "<f8") + bytes(8)}
    )
    with pytest.raises(CorruptFileError, match="states 68719476736 bytes of data"):
        fsk.load(path)


@needs_skops
def test_an_array_of_many_empty_items_is_refused(tmp_path):
    # 10**15 items of no bytes each hold 0 bytes, as stated; pandas or numpy
    # would then spend memory and time per item.
    array = _node("NdArrayNode", "numpy", "ndarray", type="numpy", file="a.npy")
    path = _skops_file(tmp_path, array, {"a.npy": _array_header((10**15,), "|V0")})
    with pytest.raises(
        CorruptFileError, match="0 bytes of data in 1000000000000000 items"
    ):
        fsk.load(path)


# ------------------------------------------------ no pickle in a skops save
_HIDING_PLACES = {
    "an object array": lambda net: np.array([net, None], dtype=object),
    "a masked array in a dict": lambda net: {
        "a": np.ma.MaskedArray(np.array([net, 1], dtype=object))
    },
    "a pandas Series": lambda net: {"s": pd.Series([net, 1])},
    "a FunctionTransformer's kw_args": lambda net: __import__(
        "sklearn.preprocessing"
    ).preprocessing.FunctionTransformer(kw_args={"m": np.array([net], dtype=object)}),
}


@needs_skops
@pytest.mark.parametrize("place", sorted(_HIDING_PLACES))
def test_skops_save_finds_a_net_wherever_it_hides(tmp_path, place):
    # skorch pickles its module into bytes: the file would hold a pickle.
    holder = _HIDING_PLACES[place](fsk.TorchClassifier(max_epochs=1))
    with pytest.raises(ValueError, match="cannot store .*pickle"):
        fsk.save(holder, tmp_path / "m.fwsk", format="skops")
    assert list(tmp_path.iterdir()) == []


@needs_skops
@pytest.mark.parametrize("protocol", [2, 5])
def test_skops_save_refuses_pickled_bytes_in_the_state(tmp_path, protocol):
    # What a net does to its module, done by hand: no walk of the object can
    # tell such bytes from others, so the written members are checked.
    import pickle

    state = {"weights": pickle.dumps(_RunsCode(tmp_path / "ran"), protocol=protocol)}
    with pytest.raises(ValueError, match="cannot store .*is a pickle"):
        fsk.save(state, tmp_path / "m.fwsk", format="skops")
    assert list(tmp_path.iterdir()) == []


@needs_skops
def test_skops_save_keeps_bytes_that_are_not_pickles(tmp_path):
    state = {"raw": b"\x80\x00 not a pickle", "zip": b"PK\x03\x04 nor a zip"}
    path = fsk.save(state, tmp_path / "m.fwsk", format="skops")
    assert fsk.load(path) == state


# ------------------------------------------- sparse matrices, inflated by scipy
def _npz(**arrays):
    """An npz archive, deflated as scipy.sparse.save_npz writes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in arrays.items():
            archive.writestr(f"{name}.npy", data)
    return buffer.getvalue()


def _csr_members(n, data):
    """The members of a 1 x n CSR matrix whose ``data`` member is given."""
    return {
        "format": _npy("csr"),
        "shape": _npy(np.array([1, n])),
        "indptr": _npy(np.array([0, n], dtype=np.int32)),
        "indices": _npy(np.zeros(n, dtype=np.int32)),
        "data": data,
    }


def _sparse_file(tmp_path, npz):
    # skops trusts a sparse matrix named by the base class, unasked.
    matrix = _node(
        "SparseMatrixNode", "scipy.sparse._matrix", "spmatrix", type="scipy", file="m"
    )
    return _skops_file(tmp_path, matrix, {"m": npz})


@needs_skops
def test_a_sparse_matrix_inflating_out_of_proportion_is_refused(tmp_path):
    # 64 kB of deflated zeros that scipy would inflate to 48 MiB (a thousand
    # times as much from a larger file).
    n = 2**22
    path = _sparse_file(tmp_path, _npz(**_csr_members(n, _npy(np.zeros(n)))))
    assert path.stat().st_size < 2**17
    with pytest.raises(CorruptFileError, match="'m' states .* out of proportion"):
        fsk.load(path)


@needs_skops
def test_a_sparse_matrix_array_stating_more_than_it_holds_is_refused(tmp_path):
    data = _array_header((2**33,), "<f8") + bytes(8)
    path = _sparse_file(tmp_path, _npz(**_csr_members(1, data)))
    with pytest.raises(CorruptFileError, match="states 68719476736 bytes of data"):
        fsk.load(path)


@needs_skops
def test_a_real_sparse_matrix_still_loads(tmp_path):
    # The control of the tests above: an identity matrix of 100,000 rows, which
    # save_npz deflates six times.
    import scipy.sparse

    matrix = scipy.sparse.identity(100_000, format="csr")
    path = fsk.save({"m": matrix}, tmp_path / "s.fwsk", format="skops")
    loaded = fsk.load(path, trusted=["scipy.sparse._csr.csr_matrix"])
    assert (loaded["m"] != matrix).nnz == 0


@needs_skops
@pytest.mark.parametrize("scalar", ["bytes_", "void"])
def test_a_numpy_scalar_built_from_a_number_is_refused(tmp_path, scalar):
    # numpy.bytes_(array(2_000_000_000)) is 2 GB of zero bytes: a 1 kB file,
    # trusted by default, would fill that memory while loading.
    array = _node("NdArrayNode", "numpy", scalar, type="numpy", file="a.npy")
    members = {"a.npy": _npy(np.array(2_000_000_000))}
    path = _skops_file(tmp_path, array, members)
    with pytest.raises(
        CorruptFileError, match=f"numpy.{scalar} from an array of int64"
    ):
        fsk.load(path)


@needs_skops
def test_numpy_scalars_of_a_real_model_still_load(tmp_path):
    state = {"i": np.int64(3), "f": np.float64(1.5), "v": np.void(b"\x01\x02")}
    assert fsk.load(fsk.save(state, tmp_path / "s.fwsk", format="skops")) == state


def _generator_file(tmp_path, pool_size, members=None, before=None):
    """A saved numpy Generator, trusted by default, whose seed sequence states
    the ``pool_size`` node given; ``before``, a node placed ahead of it."""
    saved = fsk.save(
        {"rng": np.random.default_rng(0)}, tmp_path / "g.fwsk", format="skops"
    )
    with zipfile.ZipFile(saved) as outer:
        payload = zipfile.ZipFile(io.BytesIO(outer.read("payload")))
        schema = json.loads(payload.read("schema.json"))
    seed_seq = schema["content"]["rng"]["content"]["seed_seq"]["content"]
    assert json.loads(seed_seq["pool_size"]["content"]) == 4
    seed_seq["pool_size"] = pool_size
    if before is not None:
        schema["content"] = {"before": before, **schema["content"]}
        schema["key_types"]["content"].append(_node("TypeNode", "builtins", "str"))
    return _skops_file(tmp_path, schema, members)


@needs_skops
@pytest.mark.parametrize("how", ["number", "numpy scalar", "reference"])
def test_a_seed_sequence_of_a_huge_pool_is_refused(tmp_path, how):
    # numpy mixes a SeedSequence's pool in time quadratic in its size: a pool
    # of ten million words would take hours while loading.
    huge = {**_json(10_000_000), "__id__": 99}
    pool_size, members, before = {
        "number": (huge, None, None),
        "numpy scalar": (
            _node("NdArrayNode", "numpy", "int64", type="numpy", file="n.npy"),
            {"n.npy": _npy(np.int64(10_000_000))},
            None,
        ),
        # A 4 whose __id__ is that of the huge number, read first: skops
        # takes the number it built for that __id__.
        "reference": ({**_json(4), "__id__": 99}, None, huge),
    }[how]
    path = _generator_file(tmp_path, pool_size, members, before)
    with pytest.raises(CorruptFileError, match="pool_size"):
        fsk.load(path)


@needs_skops
def test_a_saved_generator_still_loads_and_draws_the_same(tmp_path):
    rng = np.random.default_rng(7)
    path = fsk.save({"rng": rng}, tmp_path / "g.fwsk", format="skops")
    assert fsk.load(path)["rng"].random() == rng.random()
