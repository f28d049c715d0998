"""CNI: network config lists, results, an async plugin invoker like libcni, and fakes.

* ``config``: ``NetworkConfigList``/``PluginConf`` and the ``.conflist`` loaders;
* ``types``: ``Result`` (spec 1.0.0, reads 0.3.x/0.4.0), ``RuntimeConf``, ``VersionInfo``;
* ``codes``: the error body and well-known codes, ``CniPluginError``;
* ``invoker``: ``CniInvoker`` (ADD/CHECK/DEL/VERSION, chaining, result cache, timeouts);
* ``cache``: ``ResultCache`` (libcni's on-disk layout);
* ``plugin``: in-process plugins (``PluginRegistry``, ``PythonPlugin``);
* ``ipam``/``fakes``: a host-local-like allocator and plugin, fake bridge/loopback/tuning.
"""

from kcore.interfaces.cni.cache import DEFAULT_CACHE_DIR, CachedAttachment, ResultCache
from kcore.interfaces.cni.codes import (
    GENERIC_PLUGIN_ERROR,
    CniPluginError,
    ErrorCode,
    ErrorResult,
    IncompatibleVersionError,
)
from kcore.interfaces.cni.config import (
    NetworkConfigList,
    PluginConf,
    find_network,
    load_conf_dir,
    load_conflist,
)
from kcore.interfaces.cni.fakes import (
    FakeBridge,
    FakeHost,
    FakeLink,
    FakeLoopback,
    FakeTuning,
    fake_registry,
)
from kcore.interfaces.cni.invoker import (
    DEFAULT_CNI_PATH,
    DEFAULT_TIMEOUT,
    CniInvoker,
    request_config,
)
from kcore.interfaces.cni.ipam import (
    DirAllocationStore,
    HostLocalAllocator,
    HostLocalPlugin,
    IpRange,
    MemoryAllocationStore,
)
from kcore.interfaces.cni.plugin import (
    InProcessPlugin,
    PluginFailure,
    PluginOutput,
    PluginRegistry,
    PluginRequest,
    PythonPlugin,
)
from kcore.interfaces.cni.types import (
    CONFIG_VERSIONS,
    DNS,
    RESULT_VERSIONS,
    SPEC_VERSION,
    Interface,
    IPConfig,
    Result,
    Route,
    RuntimeConf,
    VersionInfo,
)

__all__ = [
    "CONFIG_VERSIONS",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_CNI_PATH",
    "DEFAULT_TIMEOUT",
    "DNS",
    "GENERIC_PLUGIN_ERROR",
    "RESULT_VERSIONS",
    "SPEC_VERSION",
    "CachedAttachment",
    "CniInvoker",
    "CniPluginError",
    "DirAllocationStore",
    "ErrorCode",
    "ErrorResult",
    "FakeBridge",
    "FakeHost",
    "FakeLink",
    "FakeLoopback",
    "FakeTuning",
    "HostLocalAllocator",
    "HostLocalPlugin",
    "IPConfig",
    "InProcessPlugin",
    "IncompatibleVersionError",
    "Interface",
    "IpRange",
    "MemoryAllocationStore",
    "NetworkConfigList",
    "PluginConf",
    "PluginFailure",
    "PluginOutput",
    "PluginRegistry",
    "PluginRequest",
    "PythonPlugin",
    "Result",
    "ResultCache",
    "Route",
    "RuntimeConf",
    "VersionInfo",
    "fake_registry",
    "find_network",
    "load_conf_dir",
    "load_conflist",
    "request_config",
]
