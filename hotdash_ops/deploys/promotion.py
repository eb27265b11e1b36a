"""What production gets: the image staging runs now, by digest (runbook, Production Deployment
prerequisite "Staging deployment successful"), pure.

Staging is ready when its newest release is `complete` (a failed or still running deploy is
not "successful"). The image is pinned by digest (`registry/repository@sha256:...`) from the
machines' `image_ref`, so the bytes staging was tested with are the bytes that ship, even if
the tag is pushed again later. When staging's machines do not agree on a digest (a deploy is
half done) nothing is promoted.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from hotdash_ops.models import AppStatus, Release


class Promotion(BaseModel):
    """The image to deploy to production and where it comes from."""

    image: str
    staging_version: int | None = None
    staging_image: str | None = None  # the tag staging was deployed with
    from_staging: bool = True  # the image is the one staging runs (and was smoke-tested with)
    note: str  # one sentence for the form and the summary


class NotReady(ValueError):
    """Staging is not in a state production may be deployed from."""


def newest_release(releases: Sequence[Release]) -> Release | None:
    """The release with the highest version, whatever its status."""
    return max(releases, key=lambda r: r.version) if releases else None


def check_staging_release(app: str, releases: Sequence[Release]) -> Release:
    """Staging's newest release, which must be complete; NotReady saying why otherwise."""
    newest = newest_release(releases)
    if newest is None:
        raise NotReady(f"{app} has no releases; deploy staging first")
    if not newest.complete:
        raise NotReady(
            f"{app}'s latest release v{newest.version} is {newest.status}; "
            "a successful staging deploy must come first"
        )
    return newest


def pinned_image(status: AppStatus) -> tuple[str | None, str | None]:
    """(`registry/repository@digest`, the tag reference) of the started machines; NotReady
    when they run different images."""
    started = [m for m in status.machines if m.state == "started" and m.image_ref is not None]
    pins = {
        "/".join(p for p in (m.image_ref.registry, m.image_ref.repository) if p)
        + f"@{m.image_ref.digest}"
        for m in started
        if m.image_ref is not None and m.image_ref.digest
    }
    if len(pins) > 1:
        raise NotReady(
            f"{status.name}'s machines run different images ({', '.join(sorted(pins))}); "
            "wait for its deploy to finish"
        )
    tags = {m.image for m in started if m.image}
    tag = tags.pop() if len(tags) == 1 else None
    return (pins.pop() if pins else None), tag


def digest_of(image: str | None) -> str | None:
    """`sha256:...` of a `repository@sha256:...` reference; None for a reference by tag."""
    return image.rsplit("@", 1)[1] if image and "@" in image else None


def running_digest(status: AppStatus) -> str | None:
    """The digest every started machine runs; None when unknown or not all the same."""
    try:
        pinned, _ = pinned_image(status)
    except NotReady:
        return None
    return digest_of(pinned)


def choose_image(
    staging_release: Release, status: AppStatus, *, requested: str | None = None
) -> Promotion:
    """The image to promote: `requested` if given, else what staging runs, by digest."""
    pinned, tag = pinned_image(status)
    staging_image = tag or staging_release.image_ref
    if requested:
        same = requested in (pinned, staging_image, staging_release.image_ref)
        note = (
            "the image staging runs and was smoke-tested with"
            if same
            else f"given explicitly; staging runs {pinned or staging_image} (not this image)"
        )
        return Promotion(
            image=requested,
            staging_version=staging_release.version,
            staging_image=staging_image,
            from_staging=same,
            note=note,
        )
    if pinned:
        return Promotion(
            image=pinned,
            staging_version=staging_release.version,
            staging_image=staging_image,
            note=f"staging's v{staging_release.version} ({staging_image}), pinned by digest",
        )
    if staging_release.image_ref:
        # No digest reported (older API answers): Fly's deployment tags are unique per build.
        return Promotion(
            image=staging_release.image_ref,
            staging_version=staging_release.version,
            staging_image=staging_release.image_ref,
            note=f"staging's v{staging_release.version} by tag (no digest reported)",
        )
    raise NotReady(f"{status.name}: cannot tell which image staging runs")
