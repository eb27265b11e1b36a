"""Identifiers shaped like Fly's: machine ids, volume ids, ULIDs, digests."""

from __future__ import annotations

import hashlib
import random
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VOL_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def ulid(rng: random.Random | None = None, ms: int | None = None) -> str:
    """A 26-character ULID-like string (48-bit time + 80 random bits, Crockford base32)."""
    rng = rng or random.Random()
    ms = int(time.time() * 1000) if ms is None else ms
    value = (ms << 80) | rng.getrandbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def machine_id(rng: random.Random) -> str:
    """A 14-hex-digit machine id like ``3d8d9e1b2c4f87``."""
    return f"{rng.getrandbits(56):014x}"


def volume_id(rng: random.Random) -> str:
    """A volume id like ``vol_9vw681egy1jj5xm4``."""
    return "vol_" + "".join(rng.choice(_VOL_ALPHABET) for _ in range(16))


def snapshot_id(rng: random.Random) -> str:
    """A volume snapshot id like ``vs_MgLAggLZkYx89fLy``."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789"
    return "vs_" + "".join(rng.choice(alphabet) for _ in range(16))


def digest(text: str) -> str:
    """A stable hex digest (16 chars) as Fly shows for secrets."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_digest(ref: str) -> str:
    """The content digest of the image `ref` names: the pinned one of ``repo@sha256:...``,
    else a stable one made from the tag reference (flysim has no registry: a tag names fixed
    content). A digest reference of a tag's content is the same image (flyctl resolves the
    reference through Fly's API, fly-go resource_apps.go `ResolveImageForApp`, and the
    machine's `image_ref.digest` is that content's digest)."""
    _, at, pinned = ref.partition("@")
    if at and pinned.startswith("sha256:"):
        return pinned
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def private_ip(rng: random.Random) -> str:
    """A 6PN-looking IPv6 address."""
    return "fdaa:0:{:x}:a7b:{:x}:{:x}:{:x}:2".format(*(rng.getrandbits(16) for _ in range(4)))
