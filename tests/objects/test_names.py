"""Kubernetes' name, key and format validators: boundaries, exact wording, generated names."""

from __future__ import annotations

import random

import pytest

from kcore.objects import names
from kcore.objects.names import (
    NAME_SUFFIX_ALPHABET,
    TOTAL_ANNOTATION_SIZE_LIMIT_BYTES,
    generate_name,
    is_annotation_key,
    is_c_identifier,
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_percent,
    is_qualified_name,
    is_valid_cidr,
    is_valid_ip,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    name_is_dns1123_label,
    name_is_dns1123_subdomain,
    random_name_suffix,
    regex_error,
    validate_annotations_size,
)

LABEL_63 = "a" * 63
LABEL_64 = "a" * 64
SUBDOMAIN_253 = ".".join(["a" * 63] * 3 + ["a" * 61])  # 63*3 + 61 + 3 dots = 253
SUBDOMAIN_254 = SUBDOMAIN_253 + "a"

DNS1123_LABEL_REGEX_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1123_SUBDOMAIN_REGEX_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
QUALIFIED_NAME_REGEX_TAIL = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def test_regex_error_wording_matches_kubernetes() -> None:
    assert regex_error("m", "p") == "m (regex used for validation is 'p')"
    assert regex_error("m", "p", "a") == "m (e.g. 'a', regex used for validation is 'p')"
    assert regex_error("m", "p", "a", "b") == (
        "m (e.g. 'a',  or 'b', regex used for validation is 'p')"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", []),
        ("0", []),
        ("123-abc", []),
        ("my-name", []),
        ("a--b", []),
        (LABEL_63, []),
        (LABEL_64, ["must be no more than 63 characters"]),
        ("", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("A", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("my-Name", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("-a", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("a-", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("a_b", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("a.b", ["must not contain dots"]),
        ("abc\n", [DNS1123_LABEL_REGEX_MESSAGE]),  # no "$ before newline" leniency
        ("é", [DNS1123_LABEL_REGEX_MESSAGE]),
        ("A" * 64, ["must be no more than 63 characters", DNS1123_LABEL_REGEX_MESSAGE]),
    ],
)
def test_dns1123_label(value: str, expected: list[str]) -> None:
    assert is_dns1123_label(value) == expected


def test_label_length_counts_utf8_bytes() -> None:
    # 32 two-byte characters are 64 bytes, over the limit although only 32 characters.
    assert is_dns1123_label("é" * 32)[0] == "must be no more than 63 characters"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", []),
        ("example.com", []),
        ("a.b-c.d0", []),
        ("a" * 253, []),  # label length is not limited inside a subdomain
        (SUBDOMAIN_253, []),
        (SUBDOMAIN_254, ["must be no more than 253 characters"]),
        ("", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        (".a", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        ("a.", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        ("a..b", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        ("a.-b", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        ("Example.com", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        ("a_b.com", [DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
    ],
)
def test_dns1123_subdomain(value: str, expected: list[str]) -> None:
    assert is_dns1123_subdomain(value) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a", True),
        ("abc-123", True),
        (LABEL_63, True),
        (LABEL_64, False),
        ("1a", False),
        ("-a", False),
        ("a-", False),
        ("A", False),
        ("a.b", False),
    ],
)
def test_dns1035_label(value: str, valid: bool) -> None:
    assert (is_dns1035_label(value) == []) is valid
    if not valid and value != LABEL_64:
        assert is_dns1035_label(value)[-1].startswith("a DNS-1035 label must consist of")


def test_generate_name_prefixes_may_end_with_a_dash() -> None:
    assert name_is_dns1123_subdomain("web-") != []
    assert name_is_dns1123_subdomain("web-", prefix=True) == []
    assert name_is_dns1123_label("web-", prefix=True) == []
    assert name_is_dns1123_label("Web-", prefix=True) != []
    # Kubernetes replaces the dash and the character before it: "a.-" checks as "aa".
    assert name_is_dns1123_label("a.-", prefix=True) == []
    assert names.name_is_dns1035_label("1a-", prefix=True) != []
    assert names.name_is_dns1035_label("ab-", prefix=True) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", []),
        ("A", []),
        ("MyName", []),
        ("my.name_x-y", []),
        ("123-abc", []),
        ("example.com/MyName", []),
        ("kubernetes.io/metadata.name", []),
        (LABEL_63, []),
        (SUBDOMAIN_253 + "/" + LABEL_63, []),
        (LABEL_64, ["name part must be no more than 63 characters"]),
        (
            SUBDOMAIN_254 + "/a",
            ["prefix part must be no more than 253 characters"],
        ),
        ("/a", ["prefix part must be non-empty"]),
        ("a/", ["name part must be non-empty", "name part " + QUALIFIED_NAME_REGEX_TAIL]),
        ("", ["name part must be non-empty", "name part " + QUALIFIED_NAME_REGEX_TAIL]),
        ("_a", ["name part " + QUALIFIED_NAME_REGEX_TAIL]),
        ("a_", ["name part " + QUALIFIED_NAME_REGEX_TAIL]),
        ("a b", ["name part " + QUALIFIED_NAME_REGEX_TAIL]),
        ("Example.com/a", ["prefix part " + DNS1123_SUBDOMAIN_REGEX_MESSAGE]),
        (
            "a/b/c",
            [
                "a qualified name "
                + QUALIFIED_NAME_REGEX_TAIL
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ],
        ),
    ],
)
def test_qualified_name(value: str, expected: list[str]) -> None:
    assert is_qualified_name(value) == expected


def test_annotation_keys_ignore_case() -> None:
    assert is_annotation_key("Example.COM/Some-Key") == []
    assert is_qualified_name("Example.COM/Some-Key") != []
    assert is_annotation_key("bad key") != []


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("a", True),
        ("MyValue", True),
        ("my_value", True),
        ("1.2-3_x", True),
        (LABEL_63, True),
        (LABEL_64, False),
        ("-a", False),
        ("a-", False),
        ("a b", False),
        ("a/b", False),
        ("ä", False),
    ],
)
def test_label_value(value: str, valid: bool) -> None:
    assert (is_valid_label_value(value) == []) is valid


def test_label_value_messages() -> None:
    assert is_valid_label_value(LABEL_64) == ["must be no more than 63 characters"]
    assert is_valid_label_value("-a") == [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
        "'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    ]


@pytest.mark.parametrize(("port", "valid"), [(1, True), (80, True), (65535, True), (0, False)])
def test_port_numbers(port: int, valid: bool) -> None:
    assert (is_valid_port_num(port) == []) is valid


def test_port_number_out_of_range_message() -> None:
    assert is_valid_port_num(65536) == ["must be between 1 and 65535, inclusive"]
    assert is_valid_port_num(-1) == ["must be between 1 and 65535, inclusive"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("http", []),
        ("h2c", []),
        ("a-b-c", []),
        ("abcdefghijklmno", []),  # 15
        ("abcdefghijklmnop", ["must be no more than 15 characters"]),
        ("123", ["must contain at least one letter (a-z)"]),
        ("a--b", ["must not contain consecutive hyphens"]),
        ("-ab", ["must not begin or end with a hyphen"]),
        ("ab-", ["must not begin or end with a hyphen"]),
        (
            "HTTP",
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
        (
            "",
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
        ),
    ],
)
def test_port_names(name: str, expected: list[str]) -> None:
    assert is_valid_port_name(name) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [("a", True), ("_a1", True), ("MY_NAME", True), ("1a", False), ("a-b", False), ("", False)],
)
def test_c_identifier(value: str, valid: bool) -> None:
    assert (is_c_identifier(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "relaxed_valid", "strict_valid"),
    [
        ("PATH", True, True),
        ("my.env-name", True, True),
        ("1ABC", True, False),
        ("a b", True, False),  # space is printable ASCII
        ("a:b~!", True, False),
        ("..a", True, False),
        (".", True, False),
        ("a=b", False, False),
        ("", False, False),
        ("tab\t", False, False),
        ("é", False, False),
    ],
)
def test_env_var_names(value: str, relaxed_valid: bool, strict_valid: bool) -> None:
    assert (is_env_var_name(value) == []) is relaxed_valid
    assert (is_env_var_name(value, relaxed=False) == []) is strict_valid


def test_env_var_name_messages() -> None:
    assert is_env_var_name("") == ["environment variable name must be non-empty"]
    assert is_env_var_name("a=b") == [
        "a valid environment variable name must consist only of printable ASCII characters "
        "other than '='"
    ]
    assert is_env_var_name("..a", relaxed=False) == ["must not start with '..'"]


@pytest.mark.parametrize(
    ("key", "expected_tail"),
    [
        ("key.name", None),
        ("KEY_NAME", None),
        ("a" * 253, None),
        ("a" * 254, "must be no more than 253 characters"),
        (".", "must not be '.'"),
        ("..", "must not be '..'"),
        ("..data", "must not start with '..'"),
        ("a/b", "regex used for validation is '[-._a-zA-Z0-9]+')"),
        ("", "regex used for validation is '[-._a-zA-Z0-9]+')"),
    ],
)
def test_config_map_keys(key: str, expected_tail: str | None) -> None:
    problems = is_config_map_key(key)
    if expected_tail is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problems[0].endswith(expected_tail)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.9.8.7", []),
        ("0.0.0.0", []),
        ("2001:db8::ffff", []),
        ("::1", []),
        ("::", []),
        ("2001:DB8:0:0::1", []),  # not canonical, accepted unless canonical form is required
        ("", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("1.2.3", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("1.2.3.4.5", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("256.1.1.1", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("1.2.3.4 ", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("fe80::1%eth0", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("1.2.3.4/32", ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ("010.1.1.1", ["must not have leading 0s"]),
        ("1.2.3.04", ["must not have leading 0s"]),
        ("::ffff:01.2.3.4", ["must not have leading 0s"]),
        ("::ffff:1.2.3.4", ["must not be an IPv4-mapped IPv6 address"]),
    ],
)
def test_ip_addresses(value: str, expected: list[str]) -> None:
    assert is_valid_ip(value) == expected


def test_ip_canonical_form_when_required() -> None:
    assert is_valid_ip("2001:db8::1", require_canonical=True) == []
    assert is_valid_ip("2001:DB8:0:0::1", require_canonical=True) == [
        'must be in canonical form ("2001:db8::1")'
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.0.0.0/8", []),
        ("0.0.0.0/0", []),
        ("1.2.3.4/32", []),
        ("2001:db8::/64", []),
        ("::/0", []),
        ("10.0.0.1/8", ["must not have bits set beyond the prefix length"]),
        ("2001:db8::1/64", ["must not have bits set beyond the prefix length"]),
        ("10.0.0.0/08", ["must not have leading 0s in IP or prefix length"]),
        ("010.0.0.0/8", ["must not have leading 0s in IP or prefix length"]),
        ("::ffff:1.2.3.0/120", ["must not have an IPv4-mapped IPv6 address"]),
        ("10.0.0.0/33", ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
        ("10.0.0.0", ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
        ("10.0.0.0/", ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
        ("10.0.0.0/+8", ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
        ("10.0.0.0/255.0.0.0", ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
        ("2001:db8::/129", ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]),
    ],
)
def test_cidrs(value: str, expected: list[str]) -> None:
    assert is_valid_cidr(value) == expected


def test_cidr_canonical_form_when_required() -> None:
    assert is_valid_cidr("2001:DB8::/64") == []
    assert is_valid_cidr("2001:DB8::/64", require_canonical=True) == [
        'must be in canonical form ("2001:db8::/64")'
    ]


@pytest.mark.parametrize(
    ("value", "valid"),
    [("0%", True), ("25%", True), ("100%", True), ("%", False), ("25", False), ("1.5%", False)],
)
def test_percent(value: str, valid: bool) -> None:
    assert (is_percent(value) == []) is valid


def test_annotation_size_limit_boundary() -> None:
    assert TOTAL_ANNOTATION_SIZE_LIMIT_BYTES == 262144
    key = "example.com/big"
    at_limit = {key: "x" * (262144 - len(key))}
    assert validate_annotations_size(at_limit) == []
    over = {key: "x" * (262144 - len(key) + 1)}
    problems = validate_annotations_size(over)
    assert len(problems) == 1
    assert "262144 bytes" in problems[0] and "262145" in problems[0]


def test_annotation_size_counts_keys_values_and_utf8_bytes() -> None:
    # Two annotations whose keys and values together are one byte over, split across entries.
    half = 262144 // 2
    assert validate_annotations_size({"a": "x" * (half - 1), "b": "y" * (half - 1)}) == []
    assert validate_annotations_size({"a": "x" * half, "b": "y" * (half - 1)}) != []
    # "é" is two bytes in UTF-8.
    assert validate_annotations_size({"k": "é" * (262143 // 2)}) == []
    assert validate_annotations_size({"k": "é" * (262144 // 2)}) != []


def test_generate_name_truncates_the_base_to_58_characters() -> None:
    name = generate_name("a" * 100)
    assert len(name) == 63
    assert name[:58] == "a" * 58
    assert set(name[58:]) <= set(NAME_SUFFIX_ALPHABET)
    assert is_dns1123_label(name) == []


def test_generate_name_keeps_a_short_base() -> None:
    name = generate_name("web-")
    assert name.startswith("web-")
    assert len(name) == 9
    assert set(name[4:]) <= set(NAME_SUFFIX_ALPHABET)


def test_generate_name_is_reproducible_with_a_seeded_random() -> None:
    first = [generate_name("job-", random.Random(42)) for _ in range(3)]
    assert len(set(first)) == 1
    sequence = random.Random(42)
    names_drawn = {generate_name("job-", sequence) for _ in range(50)}
    assert len(names_drawn) > 40  # 27**5 possibilities: collisions in 50 draws are rare


def test_name_suffix_alphabet_has_no_vowels_or_look_alikes() -> None:
    assert NAME_SUFFIX_ALPHABET == "bcdfghjklmnpqrstvwxz2456789"
    suffix = random_name_suffix(1000, random.Random(1))
    assert set(suffix) == set(NAME_SUFFIX_ALPHABET)
