"""Validators for every user-supplied value that reaches a fly command or a URL.

Each raises ``ValueError("<field>: <rule>")`` so the message says what is wrong. They are used
directly (the flyctl runner checks its arguments) and as pydantic ``AfterValidator``s through the
``Annotated`` types at the bottom (flow parameters, inventory fields).

A value starting with ``-`` is always refused: it would be read by flyctl as an option
(option injection), whatever the field. A refused value is quoted shortened (``_shown``): a
megabyte of input must not come back as a megabyte of error message, state message and log.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError

# Fly app names: lowercase letters, digits and dashes, starting and ending alphanumeric.
_APP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,61}[a-z0-9]")
# Docker reference grammar, simplified: [registry[:port]/]path[:tag][@sha256:digest].
_IMAGE_REF = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# Docker's recommended label keys: reverse-DNS, lowercase.
_LABEL_KEY = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,126}[a-z0-9])?")
_VOLUME_ID = re.compile(r"vol_[a-z0-9]{4,64}")
_MACHINE_ID = re.compile(r"[a-z0-9]{6,32}")
# [0-9], not \d: Python's \d also takes Arabic-Indic and other Unicode digits.
_RELEASE_TAG = re.compile(r"v([0-9]{4})\.([0-9]{2})\.([0-9]{2})([a-z])")
_REGION = re.compile(r"[a-z]{3}")
# A branch, tag or commit as `git check-ref-format` allows them, narrowed to ASCII letters,
# digits and `._/-` (the names people give branches and tags; a commit is hex).
_GIT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_URL_LENGTH = 2048
MAX_PATH_LENGTH = 4096
# Unicode line breaks and bidi controls: text that displays as something else than it is.
_INVISIBLE_TRICKS = frozenset(
    "\x85\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _shown(value: str, limit: int = 80) -> str:
    """`repr` of the value, cut to `limit` characters with its full length said."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def no_option(value: str, field: str) -> str:
    """Refuse a value flyctl would parse as an option, or one with control characters."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: must be a string")
    if value.startswith("-"):
        raise ValueError(f"{field}: must not start with '-' (would be read as an option)")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{field}: must not contain control characters")
    return value


def app_name(value: str, field: str = "app") -> str:
    """A Fly app name: 2-63 chars of lowercase letters, digits, dashes; alphanumeric ends."""
    no_option(value, field)
    if not _APP_NAME.fullmatch(value):
        raise ValueError(
            f"{field}: {_shown(value)} is not a Fly app name "
            "(2-63 lowercase letters, digits or dashes, starting and ending with a letter or digit)"
        )
    return value


EVERY_APP = "*"


def app_or_every(value: str, field: str = "app") -> str:
    """A Fly app name, or `*` for every app (given explicitly, never implied by leaving it
    empty)."""
    return value if value == EVERY_APP else app_name(value, field)


def image_ref(value: str, field: str = "image") -> str:
    """A container image reference such as `registry.fly.io/app:deployment-01H...`."""
    no_option(value, field)
    if len(value) > 512 or not _IMAGE_REF.fullmatch(value):
        raise ValueError(
            f"{field}: {_shown(value)} is not an image reference "
            "([registry/]name[:tag][@sha256:digest])"
        )
    return value


def image_label(value: str, field: str = "image_label") -> str:
    """The tag part of an image reference (`git-3f2c1d9...`): Docker's tag grammar."""
    no_option(value, field)
    if not _IMAGE_TAG.fullmatch(value):
        raise ValueError(f"{field}: {_shown(value)} is not an image tag ([A-Za-z0-9_.-], <= 128)")
    return value


def image_metadata_label(key: str, value: str, field: str = "label") -> str:
    """One Docker label as flyctl's `--label KEY=VALUE` takes it (`org.opencontainers...=`)."""
    if not _LABEL_KEY.fullmatch(key):
        raise ValueError(f"{field}: {_shown(key)} is not a label key (a-z, 0-9, '.', '-')")
    no_option(value, f"{field} {key}")
    if not value.isascii() or not value.isprintable() or len(value) > 512:
        raise ValueError(f"{field} {key}: must be printable ASCII, at most 512 characters")
    return f"{key}={value}"


def volume_id(value: str, field: str = "volume_id") -> str:
    """A Fly volume id: `vol_` followed by lowercase letters and digits."""
    no_option(value, field)
    if not _VOLUME_ID.fullmatch(value):
        raise ValueError(
            f"{field}: {_shown(value)} is not a volume id (vol_ + lowercase letters/digits)"
        )
    return value


def machine_id(value: str, field: str = "machine_id") -> str:
    """A Fly machine id: 6-32 lowercase letters and digits."""
    no_option(value, field)
    if not _MACHINE_ID.fullmatch(value):
        raise ValueError(f"{field}: {_shown(value)} is not a machine id (lowercase letters/digits)")
    return value


def release_tag(value: str, field: str = "release_tag") -> str:
    """The runbook's release tag `vYYYY.MM.DD<letter>` with a real calendar date."""
    no_option(value, field)
    m = _RELEASE_TAG.fullmatch(value)
    if not m:
        raise ValueError(f"{field}: {_shown(value)} is not a release tag vYYYY.MM.DD + letter")
    try:
        dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError as exc:
        raise ValueError(f"{field}: {_shown(value)} has an invalid date ({exc})") from None
    return value


def region(value: str, field: str = "region") -> str:
    """A Fly region code: three lowercase letters (iad, ord, lhr, ...)."""
    no_option(value, field)
    if not _REGION.fullmatch(value):
        raise ValueError(f"{field}: {_shown(value)} is not a region code (three lowercase letters)")
    return value


def git_ref(value: str, field: str = "ref") -> str:
    """A branch, tag or commit name (`main`, `hotfix/login`, `v2025.10.14a`, `3f2c1d9`)."""
    no_option(value, field)
    parts = value.split("/")
    if (
        not _GIT_REF.fullmatch(value)
        or ".." in value
        or "" in parts
        or any(p.startswith(".") or p.endswith((".", ".lock")) for p in parts)
    ):
        raise ValueError(
            f"{field}: {_shown(value)} is not a branch, tag or commit name "
            "(ASCII letters, digits and ._/- ; no '..', no empty or dot-led part)"
        )
    return value


def _url(value: str, field: str, *, allow_loopback_http: bool) -> str:
    no_option(value, field)
    if len(value) > MAX_URL_LENGTH:
        raise ValueError(f"{field}: longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() for c in value):
        raise ValueError(f"{field}: must not contain whitespace")
    if not value.isascii() or not value.isprintable():
        # A person clicks it: a lookalike letter must not pass for the real host.
        raise ValueError(
            f"{field}: must be printable ASCII (percent-encode other characters, "
            "write international host names as xn--)"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{field}: {_shown(value)} is not a URL ({exc})") from None
    if not host:
        raise ValueError(f"{field}: {_shown(value)} has no host")
    if parts.username or parts.password:
        raise ValueError(f"{field}: must not carry credentials")
    if parts.scheme == "https":
        return value
    if allow_loopback_http and parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return value
    rule = "https (or http to localhost)" if allow_loopback_http else "https"
    raise ValueError(f"{field}: {_shown(value)} must be an {rule} URL")


def git_repository(value: str, field: str = "repository") -> str:
    """Where a git repository is: a URL git fetches (https, ssh, git, file; `user@host:path`)
    or a local path. No credentials inside (they would reach logs and the audit log: use a
    credential helper or an SSH key), no `<transport>::<address>` (git runs a helper program
    for those), no plain http except to localhost."""
    no_option(value, field)
    if not value.strip():
        raise ValueError(f"{field}: must not be empty")
    if len(value) > MAX_PATH_LENGTH:
        raise ValueError(f"{field}: longer than {MAX_PATH_LENGTH} characters")
    if not value.isprintable() or any(c in _INVISIBLE_TRICKS for c in value):
        raise ValueError(f"{field}: must be one printable line")
    if "::" in value:
        raise ValueError(f"{field}: {_shown(value)}: '<transport>::' addresses are not allowed")
    if "://" not in value:
        return value  # a path, or scp-like `git@github.com:owner/repo.git` (ssh)
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"{field}: {_shown(value)} is not a URL ({exc})") from None
    if parts.password:
        raise ValueError(
            f"{field}: must not carry credentials (use a git credential helper or an SSH key)"
        )
    if parts.scheme in ("https", "ssh", "git", "file"):
        return value
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return value
    raise ValueError(f"{field}: {_shown(value)}: use an https, ssh, git or file URL, or a path")


def https_url(value: str, field: str = "url") -> str:
    """An absolute https URL with a host and no embedded credentials."""
    return _url(value, field, allow_loopback_http=False)


def service_url(value: str, field: str = "url") -> str:
    """An https URL, or plain http to a loopback host (local simulators and test receivers)."""
    return _url(value, field, allow_loopback_http=True)


AppName = Annotated[str, AfterValidator(app_name)]
AppOrEvery = Annotated[str, AfterValidator(app_or_every)]
ImageRef = Annotated[str, AfterValidator(image_ref)]
VolumeId = Annotated[str, AfterValidator(volume_id)]
MachineId = Annotated[str, AfterValidator(machine_id)]
ReleaseTag = Annotated[str, AfterValidator(release_tag)]
Region = Annotated[str, AfterValidator(region)]
HttpsUrl = Annotated[str, AfterValidator(https_url)]
ServiceUrl = Annotated[str, AfterValidator(service_url)]
GitRef = Annotated[str, AfterValidator(git_ref)]
# A calendar month (`[0-9]`: the regex engine's `\d` takes any Unicode digit).
Month = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", min_length=7, max_length=7, description="YYYY-MM"),
]


def field_problems(exc: ValidationError, prefix: str = "") -> str:
    """pydantic's errors as one line a person reads: "deploy.window.days.0: Input should be..."
    (`prefix` is where the model sits in its file; the root itself is "(root)")."""
    parts = []
    for err in exc.errors():
        where = ".".join(
            [prefix, *(str(p) for p in err["loc"])] if prefix else map(str, err["loc"])
        )
        # Our own rules raise ValueError; pydantic prefixes their text with "Value error, ".
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where or '(root)'}: {msg}")
    return "; ".join(parts)
