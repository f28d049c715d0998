"""Any document at all gives an object or one DecodeError with paths: never another exception."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kcore import errors
from kcore.objects import all_kinds, from_dict, from_json, from_yaml, problems_of

KINDS = [info.cls for info in all_kinds() if info.group in ("", "apps", "batch")]
_KEYS = st.sampled_from(
    ["metadata", "spec", "status", "name", "containers", "labels", "replicas", "image",
     "ports", "containerPort", "template", "selector", "matchLabels", "resources", "limits",
     "cpu", "env", "value", "volumes", "emptyDir", "data", "x"]
)  # fmt: skip
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=25,
)


@pytest.mark.parametrize("cls", KINDS, ids=[c.__name__ for c in KINDS])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.dictionaries(_KEYS, _JSON, max_size=5))
def test_arbitrary_documents_decode_or_fail_cleanly(cls: type[Any], body: dict[str, Any]) -> None:
    document = {"apiVersion": cls.api_version, "kind": cls.kind, **body}
    try:
        obj = from_dict(document)
    except errors.DecodeError as err:
        assert err.causes and all(c.path and c.detail for c in err.causes)
        return
    problems_of(obj)  # validation of whatever decoded never raises either


def test_non_string_map_keys_from_yaml_are_reported() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: {1: x, 2.5: y}}\n"
    with pytest.raises(errors.DecodeError) as caught:
        from_yaml(text)
    assert {c.path for c in caught.value.causes} == {"metadata.labels[1]", "metadata.labels[2.5]"}
    assert "quote the key" in caught.value.causes[0].detail


def test_deep_nesting_is_a_decode_error_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(errors.DecodeError):
        from_json('{"apiVersion": "v1", "kind": "ConfigMap", "x": ' + deep + "}")
    nested: Any = {}
    for _ in range(5000):
        nested = {"a": nested}
    with pytest.raises(errors.DecodeError):
        from_dict(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": nested}
        )


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a\n",  # unclosed flow mapping
        "\tkey: value\n",  # a tab where YAML wants spaces
        "- just\n- a list\n",
        "just a string\n",
        "apiVersion: v1\nkind: Pod\nspec: !!python/object:os.system {}\n",  # unsafe tag
    ],
)
def test_malformed_or_non_object_yaml_is_one_clear_error(text: str) -> None:
    with pytest.raises(errors.DecodeError) as caught:
        from_yaml(text)
    assert str(caught.value)
