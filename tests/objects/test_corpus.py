"""Every corpus manifest loads, validates and round-trips; every invalid one fails as expected.

``manifests/**/*.yaml`` are realistic documents (several per file is fine). Loading one and
writing it back gives the same document (null values aside, which Kubernetes drops too).
``invalid/**/*.yaml`` each start with ``# expect: <field path>: <text in the message>`` lines;
decoding or validating the file must report each of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcore import errors
from kcore.objects import apply_defaults, from_yaml, problems_of, to_dict, to_yaml, validate

HERE = Path(__file__).parent
VALID = sorted((HERE / "manifests").rglob("*.yaml"))
INVALID = sorted((HERE / "invalid").rglob("*.yaml"))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(HERE)) for p in paths]


def test_corpus_is_not_empty() -> None:
    assert len(VALID) >= 10 and len(INVALID) >= 5


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_manifest_loads_validates_and_round_trips(path: Path) -> None:
    text = path.read_text()
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    objects = from_yaml(text)
    assert len(objects) == len(documents)
    for document, obj in zip(documents, objects, strict=True):
        assert to_dict(obj) == _without_nulls(document)
        validate(obj)
        validate(apply_defaults(obj))
        assert apply_defaults(apply_defaults(obj)) == apply_defaults(obj)
    assert from_yaml(to_yaml(objects)) == objects


_EXPECT = re.compile(r"^# expect: (\S+): (.+)$", re.M)


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_manifest_reports_every_problem(path: Path) -> None:
    text = path.read_text()
    expected = _EXPECT.findall(text)
    assert expected, f"{path.name} has no '# expect: <path>: <message>' lines"
    causes: list[errors.FieldError] = []
    try:
        objects = from_yaml(text)
    except errors.DecodeError as err:
        causes = err.causes
    else:
        for obj in objects:
            causes += problems_of(obj)
        with pytest.raises(errors.InvalidError):
            for obj in objects:
                validate(obj)
    for field_path, message in expected:
        assert any(c.path == field_path and message in c.detail for c in causes), (
            f"expected {field_path}: {message!r}; got {[str(c) for c in causes]}"
        )
