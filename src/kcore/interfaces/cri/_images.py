"""The fake runtime's image store: reference normalization, pull, lookup and removal in memory.

Split out of ``fake.py`` because image naming is its own mechanism: a kubelet asks for
``busybox`` and later for ``docker.io/library/busybox:latest`` or the image's ``sha256:`` id,
and all three must find the same image, as they do in containerd. Ids and digests are derived
from the normalized name (sha256), so the same name always yields the same image and tests can
predict them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator

import attrs

from kcore import errors
from kcore.interfaces.cri._pb import api_pb2 as api

__all__ = ["FakeImage", "FakeImageStore", "normalize_reference"]

DEFAULT_DOMAIN = "docker.io"
_HEX_ID = re.compile(r"^(sha256:)?[0-9a-f]{64}$")


def normalize_reference(reference: str) -> str:
    """``busybox`` -> ``docker.io/library/busybox:latest``, the way container runtimes name.

    A first path component with a dot or a port, or ``localhost``, is a registry; otherwise the
    image is on Docker Hub, whose one-part names live under ``library/``. A reference with
    neither tag nor digest means ``:latest``.
    """
    if not reference or reference != reference.strip():
        raise errors.InvalidArgumentError(
            f"image reference {reference!r} is empty or has surrounding spaces; give a name "
            "such as busybox:1.36 or registry.example/app@sha256:<hex>"
        )
    name, _, digest = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"library/{path}"
    if not path or (digest and not digest.startswith("sha256:")):
        raise errors.InvalidArgumentError(
            f"image reference {reference!r} does not parse; use name[:tag][@sha256:digest]"
        )
    if digest:
        return f"{domain}/{path}@{digest}"
    return f"{domain}/{path}:{tag or 'latest'}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@attrs.define
class FakeImage:
    """One image the fake runtime holds."""

    id: str
    repo_tags: list[str]
    repo_digests: list[str]
    size: int
    pinned: bool = False

    def message(self) -> api.Image:
        return api.Image(
            id=self.id,
            repo_tags=self.repo_tags,
            repo_digests=self.repo_digests,
            size=self.size,
            spec=api.ImageSpec(image=self.id),
            pinned=self.pinned,
        )


class FakeImageStore:
    """Images by id; references resolve through tags, digests and ids."""

    def __init__(self, pullable: Collection[str] | None = None) -> None:
        self._images: dict[str, FakeImage] = {}
        # None: every well-formed reference can be pulled; otherwise only these
        self._pullable = (
            None if pullable is None else {normalize_reference(ref) for ref in pullable}
        )

    def __iter__(self) -> Iterator[FakeImage]:
        return iter(list(self._images.values()))

    def __len__(self) -> int:
        return len(self._images)

    def find(self, reference: str) -> FakeImage | None:
        """The image a reference names (tag, digest reference or id), or None."""
        if _HEX_ID.match(reference):
            image_id = reference if reference.startswith("sha256:") else f"sha256:{reference}"
            return self._images.get(image_id)
        try:
            normalized = normalize_reference(reference)
        except errors.InvalidArgumentError:
            return None
        for image in self._images.values():
            if normalized in image.repo_tags or normalized in image.repo_digests:
                return image
        return None

    def pull(self, reference: str) -> FakeImage:
        """Add the image (or find it, if already present) for a reference."""
        normalized = normalize_reference(reference)
        if self._pullable is not None and normalized not in self._pullable:
            raise errors.NotFoundError(
                f"image {reference!r} ({normalized}) is not in the fake registry; add it to "
                "FakeRuntime(pullable=...) or leave pullable unset to allow every image"
            )
        return self.add(normalized)

    def add(self, reference: str) -> FakeImage:
        """Put an image in the store as if pulled, whatever ``pullable`` says."""
        normalized = normalize_reference(reference)
        existing = self.find(normalized)
        if existing is not None:
            return existing
        if "@" in normalized:  # pulled by digest: no tag to record
            tags, digests = [], [normalized]
        else:
            repository = normalized.rpartition(":")[0]
            tags = [normalized]
            digests = [f"{repository}@sha256:{_sha256(f'manifest:{normalized}')}"]
        content = _sha256(f"kcore-fake-image:{normalized}")
        image = FakeImage(
            id=f"sha256:{content}",
            repo_tags=tags,
            repo_digests=digests,
            size=1_000_000 + int(content[:5], 16),
        )
        self._images[image.id] = image
        return image

    def remove(self, reference: str) -> bool:
        """Remove the image a reference names; False when there was none."""
        image = self.find(reference)
        if image is None:
            return False
        del self._images[image.id]
        return True
