"""core/v1 Namespace, ConfigMap, Secret and Event: the small kinds a cluster's plumbing runs on.

They share a module because each is a few fields with a handful of Kubernetes rules, and none
embeds another kind. Two behaviours of kube-apiserver's write path are folded into the Secret
defaulter, because kcore stores v1 objects directly and has no internal version to convert
through: ``stringData`` is merged into ``data`` (as v1→internal conversion does), so a stored
Secret never carries ``stringData``. Namespace validation uses the DNS-1123 *label* rule for its
name (namespaces become DNS labels in service names); the others use the subdomain rule.

Go writes Event ``reportingComponent``/``reportingInstance`` even when empty (no omitempty),
and so does kcore, so ``kubectl get events -o yaml`` output round-trips byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from kcore.objects import names
from kcore.objects.defaults import changed, defaulter
from kcore.objects.fieldsets import selectable
from kcore.objects.meta import Object, ObjectReference
from kcore.objects.struct import evolve, field, kind, struct
from kcore.objects.validation import Problems, validates

__all__ = [
    "MAX_SECRET_SIZE",
    "NAMESPACE_PHASES",
    "SECRET_TYPES",
    "ConfigMap",
    "Event",
    "EventSeries",
    "EventSource",
    "Namespace",
    "NamespaceCondition",
    "NamespaceSpec",
    "NamespaceStatus",
    "Secret",
]

# --- Namespace -------------------------------------------------------------------------------

NAMESPACE_PHASES = ("Active", "Terminating")
# The one finalizer name that needs no domain prefix (the namespace controller's own).
STANDARD_FINALIZERS = ("kubernetes",)
METADATA_NAME_LABEL = "kubernetes.io/metadata.name"


@struct
class NamespaceSpec:
    finalizers: Sequence[str] = ()


@struct
class NamespaceCondition:
    type: str = field(default="", omitempty=False)
    status: str = field(default="", omitempty=False)
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


@struct
class NamespaceStatus:
    phase: str = ""
    conditions: Sequence[NamespaceCondition] = ()


@kind("v1", "Namespace", plural="namespaces", namespaced=False, short_names=("ns",))
class Namespace(Object):
    spec: NamespaceSpec = NamespaceSpec()
    status: NamespaceStatus = NamespaceStatus()


@validates(Namespace, name_rule=names.is_dns1123_label)
def _validate_namespace(ns: Namespace, problems: Problems) -> None:
    for i, finalizer in enumerate(ns.spec.finalizers):
        at = f"spec.finalizers[{i}]"
        messages = names.is_qualified_name(finalizer)
        problems.from_messages(at, finalizer, messages)
        if not messages and "/" not in finalizer and finalizer not in STANDARD_FINALIZERS:
            problems.invalid(
                at, finalizer, "name is neither a standard finalizer name nor is it fully qualified"
            )
    problems.enum("status.phase", ns.status.phase, NAMESPACE_PHASES)


@defaulter(Namespace)
def _default_namespace(ns: Namespace) -> Namespace:
    # Every named namespace carries its own name as a label, so selectors can pick namespaces
    # by name (generateName'd ones get it once the name exists).
    name = ns.metadata.name
    if name and ns.metadata.labels.get(METADATA_NAME_LABEL) != name:
        labels = {**ns.metadata.labels, METADATA_NAME_LABEL: name}
        ns = evolve(ns, metadata__labels=labels)
    status = changed(ns.status, phase="Active")
    return ns if status is ns.status else evolve(ns, status=status)


selectable(
    Namespace,
    {
        "status.phase": lambda o: o.status.phase,
        # Kubernetes still accepts the pre-"metadata." spelling for namespaces.
        "name": lambda o: o.metadata.name,
    },
)

# --- ConfigMap and Secret --------------------------------------------------------------------

# ConfigMaps and Secrets share one limit: 1 MiB of values, so that etcd's request limit holds.
MAX_SECRET_SIZE = 1024 * 1024


@kind("v1", "ConfigMap", plural="configmaps", short_names=("cm",))
class ConfigMap(Object):
    immutable: bool | None = None
    data: Mapping[str, str] = {}
    binary_data: Mapping[str, bytes] = {}


@validates(ConfigMap)
def _validate_config_map(cm: ConfigMap, problems: Problems) -> None:
    total = 0
    for key, text in cm.data.items():
        problems.from_messages(f"data[{key}]", key, names.is_config_map_key(key))
        if key in cm.binary_data:
            problems.invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
        total += len(text.encode("utf-8", "surrogatepass"))
    for key, blob in cm.binary_data.items():
        problems.from_messages(f"binaryData[{key}]", key, names.is_config_map_key(key))
        total += len(blob)
    if total > MAX_SECRET_SIZE:
        # The limit is on data and binaryData together, so the whole object is at fault.
        problems.too_long("<document>", None, MAX_SECRET_SIZE)


SECRET_TYPE_OPAQUE = "Opaque"
SECRET_TYPE_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_TYPE_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
SECRET_TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_TYPE_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TYPE_TLS = "kubernetes.io/tls"
SECRET_TYPE_BOOTSTRAP_TOKEN = "bootstrap.kubernetes.io/token"
# The types Kubernetes knows; any other non-empty type is allowed and left unchecked.
SECRET_TYPES = (
    SECRET_TYPE_OPAQUE,
    SECRET_TYPE_SERVICE_ACCOUNT_TOKEN,
    SECRET_TYPE_DOCKERCFG,
    SECRET_TYPE_DOCKER_CONFIG_JSON,
    SECRET_TYPE_BASIC_AUTH,
    SECRET_TYPE_SSH_AUTH,
    SECRET_TYPE_TLS,
    SECRET_TYPE_BOOTSTRAP_TOKEN,
)
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"
_REDACTED = "<secret contents redacted>"


@kind("v1", "Secret", plural="secrets")
class Secret(Object):
    immutable: bool | None = None
    data: Mapping[str, bytes] = {}
    string_data: Mapping[str, str] = {}
    type: str = ""


def _merged_secret_data(secret: Secret) -> dict[str, bytes]:
    """``data`` with ``stringData`` written over it, as kube-apiserver stores a Secret."""
    merged = dict(secret.data)
    merged.update((key, text.encode("utf-8")) for key, text in secret.string_data.items())
    return merged


@validates(Secret)
def _validate_secret(secret: Secret, problems: Problems) -> None:
    for key in secret.data:
        problems.from_messages(f"data[{key}]", key, names.is_config_map_key(key))
    for key in secret.string_data:
        problems.from_messages(f"stringData[{key}]", key, names.is_config_map_key(key))
    data = _merged_secret_data(secret)
    if sum(len(value) for value in data.values()) > MAX_SECRET_SIZE:
        problems.too_long("data", None, MAX_SECRET_SIZE)
    _validate_secret_type(secret, data, problems)


def _validate_secret_type(secret: Secret, data: dict[str, bytes], problems: Problems) -> None:
    kind_of = secret.type
    if kind_of == SECRET_TYPE_SERVICE_ACCOUNT_TOKEN:
        # The token itself is written later by the token controller; only the owner is needed.
        if not secret.metadata.annotations.get(SERVICE_ACCOUNT_NAME_ANNOTATION):
            problems.required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_ANNOTATION}]")
    elif kind_of == SECRET_TYPE_DOCKERCFG:
        _require_json_object(data, ".dockercfg", problems)
    elif kind_of == SECRET_TYPE_DOCKER_CONFIG_JSON:
        _require_json_object(data, ".dockerconfigjson", problems)
    elif kind_of == SECRET_TYPE_BASIC_AUTH:
        # Either may be empty, but one of the two keys must be there.
        if "username" not in data and "password" not in data:
            problems.required("data[username]")
            problems.required("data[password]")
    elif kind_of == SECRET_TYPE_SSH_AUTH:
        if not data.get("ssh-privatekey"):
            problems.required("data[ssh-privatekey]")
    elif kind_of == SECRET_TYPE_TLS:
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                problems.required(f"data[{key}]")


def _require_json_object(data: dict[str, bytes], key: str, problems: Problems) -> None:
    blob = data.get(key)
    if blob is None:
        problems.required(f"data[{key}]")
        return
    try:
        parsed = json.loads(blob)
    except (ValueError, UnicodeDecodeError) as err:
        problems.invalid(f"data[{key}]", _REDACTED, f"must be well-formed JSON: {err}")
        return
    if not isinstance(parsed, dict):
        problems.invalid(f"data[{key}]", _REDACTED, "must be a JSON object")


@defaulter(Secret)
def _default_secret(secret: Secret) -> Secret:
    if secret.string_data:
        secret = evolve(secret, data=_merged_secret_data(secret), string_data={})
    return changed(secret, type=SECRET_TYPE_OPAQUE)


selectable(Secret, {"type": lambda o: o.type})

# --- Event -----------------------------------------------------------------------------------

# Limits that apply to new-style events (those with eventTime), in bytes.
EVENT_REASON_MAX = 128
EVENT_ACTION_MAX = 128
EVENT_REPORTING_INSTANCE_MAX = 128
EVENT_MESSAGE_MAX = 1024


@struct
class EventSource:
    component: str = ""
    host: str = ""


@struct
class EventSeries:
    count: int = 0
    last_observed_time: datetime | None = field(default=None, micro=True)


@kind("v1", "Event", plural="events", short_names=("ev",))
class Event(Object):
    involved_object: ObjectReference = ObjectReference()
    reason: str = ""
    message: str = ""
    source: EventSource = EventSource()
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    count: int = 0
    type: str = ""
    event_time: datetime | None = field(default=None, micro=True)
    series: EventSeries | None = None
    action: str = ""
    related: ObjectReference | None = None
    # Go calls this ReportingController; the wire name is reportingComponent.
    reporting_component: str = field(default="", omitempty=False)
    reporting_instance: str = field(default="", omitempty=False)


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


@validates(Event)
def _validate_event(event: Event, problems: Problems) -> None:
    """Kubernetes' rules for core/v1 events: light, for compatibility with old recorders.

    The involved object's namespace must agree with the event's (checked once the event has a
    namespace; the API layer gives it the request's). Events with ``eventTime`` (recorded by
    the newer events API) must also say who reported them, what was done and why.
    """
    namespace = event.metadata.namespace
    involved = event.involved_object.namespace
    at = "involvedObject.namespace"
    if event.event_time is None:
        # Events about cluster-scoped objects (no namespace) are recorded in "default".
        if namespace and namespace != (involved or "default"):
            problems.invalid(at, involved, "does not match event.namespace")
        return
    if namespace and not involved and namespace not in ("default", "kube-system"):
        problems.invalid(at, involved, "does not match event.namespace")
    if not event.reporting_component:
        problems.required("reportingComponent")
    else:
        problems.from_messages(
            "reportingComponent",
            event.reporting_component,
            names.is_qualified_name(event.reporting_component),
        )
    for path, value, limit, required in (
        ("reportingInstance", event.reporting_instance, EVENT_REPORTING_INSTANCE_MAX, True),
        ("action", event.action, EVENT_ACTION_MAX, True),
        ("reason", event.reason, EVENT_REASON_MAX, True),
        ("message", event.message, EVENT_MESSAGE_MAX, False),
    ):
        if required and not value:
            problems.required(path)
        elif _byte_len(value) > limit:
            problems.invalid(path, "", f"can have at most {limit} characters")


selectable(
    Event,
    {
        "involvedObject.kind": lambda o: o.involved_object.kind,
        "involvedObject.namespace": lambda o: o.involved_object.namespace,
        "involvedObject.name": lambda o: o.involved_object.name,
        "involvedObject.uid": lambda o: o.involved_object.uid,
        "involvedObject.apiVersion": lambda o: o.involved_object.api_version,
        "involvedObject.resourceVersion": lambda o: o.involved_object.resource_version,
        "involvedObject.fieldPath": lambda o: o.involved_object.field_path,
        "reason": lambda o: o.reason,
        "reportingComponent": lambda o: o.reporting_component,
        "source": lambda o: o.source.component,
        "type": lambda o: o.type,
    },
)
