"""Offline validators for Kubernetes objects: the real schemas, strict about unknown fields.

- Core kinds (ConfigMap, Service, ...): ``kubernetes-validate`` with its bundled Kubernetes
  OpenAPI schemas in strict mode (unknown fields are errors, as ``kubectl --validate=strict``).
- prometheus-operator kinds (PodMonitor, ServiceMonitor, PrometheusRule): ``jsonschema``
  against the ``openAPIV3Schema`` of the operator's own CRDs (tests/data/prometheus-operator-crds/).
  The API server prunes unknown fields of a custom resource instead of rejecting them, which would
  let a misspelt field silently do nothing, so objects are closed (``additionalProperties: false``)
  wherever the CRD lists properties and does not ask to keep unknown fields: strict field
  validation, as the API server applies it to custom resources with ``fieldValidation=Strict``.
- Object metadata of custom resources: the CRDs only say ``type: object``, so it is checked
  against the core ObjectMeta schema (through a ConfigMap wrapper) plus the name and label
  syntax the API server enforces.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from .files import CRD_DIR, load_all

KUBERNETES_VERSIONS = ("1.25", kubernetes_validate.latest_version())

# RFC 1123 subdomain (object names) and the label key/value syntax of apimachinery's validation.
_DNS_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_LABEL_NAME = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")


def _closed(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {key: _closed(value) for key, value in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """``(apiVersion, kind)`` -> strict schema, for every served version of every vendored CRD."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in load_all(path):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = version["schema"]["openAPIV3Schema"]
                    schemas[(f"{group}/{version['name']}", kind)] = _closed(schema)
    return schemas


def _check_name_and_labels(metadata: dict[str, Any]) -> None:
    name = metadata["name"]
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        raise ValueError(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    for key, value in metadata.get("labels", {}).items():
        prefix, _, label = key.rpartition("/")
        if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
            raise ValueError(f"label key {key!r}: bad prefix")
        if not label or len(label) > 63 or not _LABEL_NAME.fullmatch(label):
            raise ValueError(f"label key {key!r}: bad name")
        if (
            not isinstance(value, str)
            or len(value) > 63
            or not _LABEL_NAME.fullmatch(value)
        ):
            raise ValueError(f"label {key}={value!r}: bad value")


def validate(obj: dict[str, Any], version: str = KUBERNETES_VERSIONS[-1]) -> None:
    """Validate one object; raise ``jsonschema.ValidationError`` or ``ValueError`` if invalid.

    Args:
        obj: the object as loaded from YAML.
        version: the Kubernetes minor version whose core schemas apply.
    """
    _check_name_and_labels(obj["metadata"])
    key = (obj["apiVersion"], obj["kind"])
    schema = crd_schemas().get(key)
    if schema is None:
        kubernetes_validate.validate(obj, version, strict=True)
        return
    wrapper = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}
    kubernetes_validate.validate(copy.deepcopy(wrapper), version, strict=True)
    jsonschema.Draft7Validator(schema).validate(obj)


def crd_files() -> list[Path]:
    """The vendored CRD files."""
    return sorted(CRD_DIR.glob("*.yaml"))
