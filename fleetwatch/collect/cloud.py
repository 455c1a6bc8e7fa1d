"""``cloud``: the instance's identity from the cloud metadata service (EC2-compatible).

Off unless the config says ``[cloud] disable = false``: until then nothing is contacted and
the plugin answers ``{}``. When enabled it asks ``<base_url>/latest/meta-data/`` (default
``http://169.254.169.254``, the link-local address AWS, OpenStack, Scaleway and others
serve) for ``instance-id``, ``instance-type``, ``ami-id`` and ``placement/region``, with a
short ``timeout`` (default 1 s), first taking an IMDSv2 token where the service issues one.
The answer is kept; after a failure the service is asked again only every 5 minutes.
"""

from __future__ import annotations

import logging
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.configured import as_number, as_text
from fleetwatch.model.fields import Field
from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec

log = logging.getLogger(__name__)

SPEC = PluginSpec(
    name="cloud",
    shape="dict",
    extra_fields=(
        Field("instance-id", "Instance ID", None),
        Field("instance-type", "Instance type", None),
        Field("ami-id", "Machine image ID", None),
        Field("region", "Region", None),
        Field("type", "Where the identity was read", None),
    ),
)

DEFAULT_BASE_URL = "http://169.254.169.254"
RETRY_SECONDS = 300.0
FIELDS = {
    "instance-id": "instance-id",
    "instance-type": "instance-type",
    "ami-id": "ami-id",
    "region": "placement/region",
}


def enabled(limits: Limits) -> bool:
    """Only an explicit ``disable = false`` turns it on."""
    value = limits.get("cloud_disable")
    return isinstance(value, list) and bool(value) and value[0].strip().lower() == "false"


class CloudCollector:
    spec = SPEC

    def __init__(self) -> None:
        self._answer: dict[str, Any] | None = None
        self._failed_at: float | None = None

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        limits = ctx.limits.get("cloud", {})
        if not enabled(limits):
            return {}
        if self._answer is not None:
            return dict(self._answer)
        if self._failed_at is not None and ctx.now - self._failed_at < RETRY_SECONDS:
            return {}
        base = (as_text(limits.get("cloud_base_url")) or DEFAULT_BASE_URL).rstrip("/")
        timeout = as_number(limits.get("cloud_timeout"), 1.0) or 1.0
        import httpx  # noqa: PLC0415 - only when enabled: ~10 MiB of the hub's memory otherwise

        try:
            self._answer = self._ask(base, timeout)
        except httpx.HTTPError as exc:
            log.info("cloud: no metadata service at %s (%s)", base, exc)
            self._failed_at = ctx.now
            return {}
        return dict(self._answer)

    @staticmethod
    def _ask(base: str, timeout: float) -> dict[str, Any]:
        import httpx  # noqa: PLC0415 - see collect

        with httpx.Client(base_url=base, timeout=timeout, trust_env=False) as client:
            headers: dict[str, str] = {}
            token = client.put(
                "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
            )
            if token.is_success:
                headers["X-aws-ec2-metadata-token"] = token.text
            out: dict[str, Any] = {}
            for name, path in FIELDS.items():
                response = client.get(f"/latest/meta-data/{path}", headers=headers)
                response.raise_for_status()
                out[name] = response.text.strip()
            out["type"] = "metadata service"
            return out
