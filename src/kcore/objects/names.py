"""Kubernetes' validators for names, keys and small scalar formats, and generated names.

Every ``is_*`` check returns a list of problem strings, empty when the value is valid, worded
as Kubernetes words them (``must be no more than 63 characters``, ``a lowercase RFC 1123 label
must consist of ...``). Lists rather than exceptions because object validation collects every
problem of every field before it answers, and the strings are what ``kubectl`` users already
recognise; the caller adds the field path.

Lengths are counted in UTF-8 bytes, as Kubernetes' Go ``len()`` counts them. Regular
expressions are compiled once and applied with ``fullmatch`` (a Python ``$`` would also accept
a trailing newline, which Kubernetes' anchors do not).

One quirk is kept on purpose: Kubernetes' message builder puts two spaces before each " or "
between examples (``(e.g. 'my-name',  or '123-abc', regex used ...)``). kcore reproduces the
text byte for byte so that messages compare equal to a real API server's.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Mapping
from typing import TypeAlias

__all__ = [
    "DNS1035_LABEL_MAX_LENGTH",
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "GENERATED_NAME_BASE_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "NAME_SUFFIX_ALPHABET",
    "NAME_SUFFIX_LENGTH",
    "QUALIFIED_NAME_MAX_LENGTH",
    "TOTAL_ANNOTATION_SIZE_LIMIT_BYTES",
    "empty_error",
    "generate_name",
    "inclusive_range_error",
    "is_annotation_key",
    "is_c_identifier",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_env_var_name",
    "is_percent",
    "is_qualified_name",
    "is_valid_cidr",
    "is_valid_ip",
    "is_valid_label_value",
    "is_valid_port_name",
    "is_valid_port_num",
    "mask_generate_name",
    "max_len_error",
    "name_is_dns1035_label",
    "name_is_dns1123_label",
    "name_is_dns1123_subdomain",
    "random_name_suffix",
    "regex_error",
    "validate_annotations_size",
]

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
PORT_NAME_MAX_LENGTH = 15
TOTAL_ANNOTATION_SIZE_LIMIT_BYTES = 256 * 1024

# Generated names: 63-character names, the last 5 random from an alphabet with no vowels (so
# no words) and no look-alike characters (0/o, 1/l, 3/e).
NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NAME_SUFFIX_LENGTH = 5
GENERATED_NAME_BASE_MAX_LENGTH = DNS1123_LABEL_MAX_LENGTH - NAME_SUFFIX_LENGTH


# --- message builders (Kubernetes' wording) ------------------------------------------------


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """``message (e.g. 'a',  or 'b', regex used for validation is 'pattern')``."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    # Kubernetes ends each example with ", " and starts each later one with " or ".
    listed = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{pattern}')"


def _byte_len(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


# --- DNS names -----------------------------------------------------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
    "an alphabetic character, and end with an alphanumeric character"
)
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)


def is_dns1123_label(value: str) -> list[str]:
    """A DNS label (RFC 1123): namespace names, most object names that become hostnames."""
    errors = []
    if _byte_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if _DNS1123_LABEL_RE.fullmatch(value) is None:
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is not None:
            # A valid subdomain that is not a valid label can only differ by its dots.
            errors.append("must not contain dots")
        else:
            errors.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def is_dns1123_subdomain(value: str) -> list[str]:
    """A DNS subdomain (RFC 1123): the rule for most object names."""
    errors = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is None:
        errors.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def is_dns1035_label(value: str) -> list[str]:
    """A DNS label that starts with a letter (RFC 1035): Service names."""
    errors = []
    if _byte_len(value) > DNS1035_LABEL_MAX_LENGTH:
        errors.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if _DNS1035_LABEL_RE.fullmatch(value) is None:
        errors.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errors


def mask_generate_name(name: str) -> str:
    # Kubernetes' rule for generateName prefixes, kept exactly: a trailing dash (the random
    # suffix follows it) is replaced together with the character before it by one "a".
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns1123_subdomain(name: str, prefix: bool = False) -> list[str]:
    """Object-name check; ``prefix=True`` validates a ``generateName`` (trailing '-' allowed)."""
    return is_dns1123_subdomain(mask_generate_name(name) if prefix else name)


def name_is_dns1123_label(name: str, prefix: bool = False) -> list[str]:
    """Object-name check for label-named kinds (Namespace); ``prefix`` as above."""
    return is_dns1123_label(mask_generate_name(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool = False) -> list[str]:
    """Object-name check for kinds named by RFC 1035 labels (Service); ``prefix`` as above."""
    return is_dns1035_label(mask_generate_name(name) if prefix else name)


# --- label and annotation keys, label values -----------------------------------------------

_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)


def is_qualified_name(value: str) -> list[str]:
    """A label key (also finalizer names, many keys): ``[prefix/]name``.

    The optional prefix is a DNS subdomain of at most 253 characters; the name is at most 63
    alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
    """
    name = value
    errors = []
    if "/" in value:
        prefix, _, name = value.partition("/")
        if "/" in name:
            return [
                "a qualified name "
                + regex_error(
                    _QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"
                )
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        if not prefix:
            errors.append("prefix part " + empty_error())
        else:
            errors.extend("prefix part " + message for message in is_dns1123_subdomain(prefix))
    if not name:
        errors.append("name part " + empty_error())
    elif _byte_len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errors.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if _QUALIFIED_NAME_RE.fullmatch(name) is None:
        errors.append(
            "name part "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errors


def is_annotation_key(key: str) -> list[str]:
    """Annotation keys follow the label-key rule except that case does not matter."""
    return is_qualified_name(key.lower())


def is_valid_label_value(value: str) -> list[str]:
    """A label value: empty, or up to 63 alphanumerics, '-', '_' or '.' (alphanumeric ends)."""
    errors = []
    if _byte_len(value) > LABEL_VALUE_MAX_LENGTH:
        errors.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if _LABEL_VALUE_RE.fullmatch(value) is None:
        errors.append(
            regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errors


def validate_annotations_size(annotations: Mapping[str, str]) -> list[str]:
    """The total of all keys and values, in bytes, may not exceed 256 KiB (262144 bytes)."""
    total = sum(_byte_len(key) + _byte_len(value) for key, value in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES:
        return [
            f"may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT_BYTES} bytes "
            f"(annotations total {total} bytes of keys and values)"
        ]
    return []


# --- ports, identifiers, keys, percents ----------------------------------------------------

_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")
_HAS_LOWER_LETTER_RE = re.compile("[a-z]")


def is_valid_port_num(port: int) -> list[str]:
    """A TCP/UDP port number, 1 to 65535."""
    if 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA service name (RFC 6335), lower case only: at most 15 of [-a-z0-9], a letter."""
    errors = []
    if _byte_len(port) > PORT_NAME_MAX_LENGTH:
        errors.append(max_len_error(PORT_NAME_MAX_LENGTH))
    if _PORT_NAME_CHARSET_RE.fullmatch(port) is None:
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if _HAS_LOWER_LETTER_RE.search(port) is None:
        errors.append("must contain at least one letter (a-z)")
    if "--" in port:
        errors.append("must not contain consecutive hyphens")
    if port.startswith("-") or port.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return errors


_C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_C_IDENTIFIER_MSG = (
    "a valid C identifier must start with alphabetic character or '_', followed by a string "
    "of alphanumeric characters or '_'"
)
_C_IDENTIFIER_RE = re.compile(_C_IDENTIFIER_FMT)


def is_c_identifier(value: str) -> list[str]:
    """A C identifier (format only, no length limit)."""
    if _C_IDENTIFIER_RE.fullmatch(value) is None:
        return [regex_error(_C_IDENTIFIER_MSG, _C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")]
    return []


_ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit"
)
_ENV_VAR_NAME_RE = re.compile(_ENV_VAR_NAME_FMT)
_RELAXED_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist only of printable ASCII characters other "
    "than '='"
)
# Printable ASCII is space (0x20) through '~' (0x7e); '=' would end the name.
_RELAXED_ENV_VAR_NAME_RE = re.compile("[\x20-\x3c\x3e-\x7e]*")


def _dot_prefix_errors(value: str) -> list[str]:
    # Keys that become file names in a volume must not step out of the directory.
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_env_var_name(value: str, *, relaxed: bool = True) -> list[str]:
    """An environment variable name.

    ``relaxed=True`` (the default, Kubernetes' current rule): any non-empty run of printable
    ASCII other than '='. ``relaxed=False``: the older, stricter rule (letters, digits, '_',
    '-', '.', no leading digit, not '.' or '..' or starting '..').
    """
    if relaxed:
        errors = []
        if not value:
            errors.append("environment variable name " + empty_error())
        if _RELAXED_ENV_VAR_NAME_RE.fullmatch(value) is None:
            errors.append(_RELAXED_ENV_VAR_NAME_MSG)
        return errors
    errors = []
    if _ENV_VAR_NAME_RE.fullmatch(value) is None:
        errors.append(
            regex_error(
                _ENV_VAR_NAME_MSG, _ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"
            )
        )
    errors.extend(_dot_prefix_errors(value))
    return errors


_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_CONFIG_MAP_KEY_RE = re.compile(_CONFIG_MAP_KEY_FMT)


def is_config_map_key(value: str) -> list[str]:
    """A ConfigMap or Secret data key (it becomes a file name when mounted)."""
    errors = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errors.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if _CONFIG_MAP_KEY_RE.fullmatch(value) is None:
        errors.append(
            regex_error(
                _CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"
            )
        )
    errors.extend(_dot_prefix_errors(value))
    return errors


_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_PERCENT_RE = re.compile(_PERCENT_FMT)


def is_percent(value: str) -> list[str]:
    """A percentage such as ``25%`` (maxSurge, maxUnavailable)."""
    if _PERCENT_RE.fullmatch(value) is None:
        return [regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]
    return []


# --- IP addresses and CIDRs ----------------------------------------------------------------

_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
# A dotted quad, possibly the tail of an IPv6 address, whose octets may carry leading zeros.
_SLOPPY_QUAD_RE = re.compile(r"(?:(?<=:)|^)(\d+)\.(\d+)\.(\d+)\.(\d+)$")
_DIGITS_RE = re.compile("[0-9]+")

_IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse_ip(value: str) -> tuple[_IPAddress | None, bool]:
    """(address, had_leading_zeros); address None when not an IP even with them ignored.

    Kubernetes parses leniently first (leading zeros in IPv4 octets ignored) and then rejects
    what the lenient parse had to forgive, so that the message can say why.
    """
    if not value.isascii() or "%" in value:  # no zones; Kubernetes' parser has none
        return None, False
    try:
        return ipaddress.ip_address(value), False
    except ValueError:
        pass
    quad = _SLOPPY_QUAD_RE.search(value)
    if quad is None:
        return None, False
    octets = [str(int(octet)) for octet in quad.groups()]
    try:
        address = ipaddress.ip_address(value[: quad.start()] + ".".join(octets))
    except ValueError:
        return None, False
    return address, True


def _is_ipv4_mapped(address: _IPAddress) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None


def is_valid_ip(value: str, *, require_canonical: bool = False) -> list[str]:
    """An IPv4 or IPv6 address, with Kubernetes' strict rules.

    Leading zeros in IPv4 octets and IPv4-mapped IPv6 addresses are rejected (software
    disagrees on what they mean). ``require_canonical=True`` adds the rule for newer fields:
    the text must be the address's canonical form (``2001:db8::1``, not ``2001:DB8:0::1``).
    """
    address, leading_zeros = _parse_ip(value)
    if address is None:
        return [_IP_MSG]
    errors = []
    if leading_zeros:
        errors.append("must not have leading 0s")
    elif _is_ipv4_mapped(address):
        errors.append("must not be an IPv4-mapped IPv6 address")
    if not errors and require_canonical and str(address) != value:
        errors.append(f'must be in canonical form ("{address}")')
    return errors


def is_valid_cidr(value: str, *, require_canonical: bool = False) -> list[str]:
    """A subnet in CIDR form (``10.0.0.0/8``, ``2001:db8::/64``), with Kubernetes' strict rules.

    No leading zeros (in octets or the prefix length), no IPv4-mapped IPv6 address, and no
    bits set beyond the prefix length. ``require_canonical=True`` also demands canonical text.
    """
    address_text, slash, length_text = value.partition("/")
    address, leading_zeros = _parse_ip(address_text)
    if address is None or not slash or _DIGITS_RE.fullmatch(length_text) is None:
        return [_CIDR_MSG]
    length = int(length_text)
    if length > address.max_prefixlen:
        return [_CIDR_MSG]
    if leading_zeros or (length_text.startswith("0") and length_text != "0"):
        return ["must not have leading 0s in IP or prefix length"]
    if _is_ipv4_mapped(address):
        return ["must not have an IPv4-mapped IPv6 address"]
    network = ipaddress.ip_network(f"{address}/{length}", strict=False)
    if network.network_address != address:
        return ["must not have bits set beyond the prefix length"]
    if require_canonical and str(network) != value:
        return [f'must be in canonical form ("{network}")']
    return []


# --- generated names -----------------------------------------------------------------------

_SYSTEM_RANDOM = random.SystemRandom()


def random_name_suffix(length: int = NAME_SUFFIX_LENGTH, rng: random.Random | None = None) -> str:
    """``length`` characters from Kubernetes' name-suffix alphabet."""
    source = rng if rng is not None else _SYSTEM_RANDOM
    return "".join(source.choice(NAME_SUFFIX_ALPHABET) for _ in range(length))


def generate_name(base: str, rng: random.Random | None = None) -> str:
    """A name for ``metadata.generateName``: the base cut to 58 characters, then 5 random.

    The result is at most 63 characters, so a valid label-like base gives a valid name. Pass
    a seeded ``random.Random`` for reproducible names (tests, simulations).
    """
    return base[:GENERATED_NAME_BASE_MAX_LENGTH] + random_name_suffix(NAME_SUFFIX_LENGTH, rng)
