"""Inbound RFC 9421 HTTP message signatures (``Signature-Input`` + ``Signature``).

Algorithms: ``rsa-v1_5-sha256`` (RSA keys) and ``ed25519``; when ``alg`` is absent the key type decides. The
signature must cover ``@method``, the target (``@target-uri``, or ``@authority``/``host`` with ``@path`` or
``@request-target``) and, for requests with a body, ``content-digest`` (or ``digest``); ``created`` is required
and checked against the same window as ``Date``; ``expires`` is checked when present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import http_sf
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.httpsig_common import (
    PublicKey,
    SignatureError,
    authority,
    check_body_digest,
    check_date_header,
    check_expires,
    check_host,
    check_moment,
    check_signature,
    needs_digest,
    request_target,
)

_KEY_ALGORITHMS = {"rsa-v1_5-sha256": "rsa", "ed25519": "ed25519"}


@dataclass(frozen=True)
class Rfc9421Signature:
    """One signature from ``Signature-Input`` / ``Signature``: its label, covered components and parameters."""

    label: str
    components: tuple[str, ...]
    params: dict[str, Any]
    signature_params: str
    signature: bytes

    @property
    def key_id(self) -> str:
        """The ``keyid`` parameter: the key to fetch."""
        return str(self.params["keyid"])

    @property
    def component_names(self) -> tuple[str, ...]:
        """The covered component identifiers, in order."""
        return self.components


def _dictionary(headers: Mapping[str, str], name: str) -> dict[str, Any]:
    try:
        parsed: Any = http_sf.parse(headers[name].encode("ascii"), tltype="dictionary")
    except (http_sf.StructuredFieldError, UnicodeEncodeError) as error:
        raise SignatureError(f"{name.title()} header is malformed") from error
    return dict(parsed)


def parse(headers: Mapping[str, str]) -> Rfc9421Signature:
    """Parse the first signature that has a ``keyid`` (headers keyed by lowercase name)."""
    if "signature" not in headers:
        raise SignatureError("Signature-Input without a Signature header")
    inputs = _dictionary(headers, "signature-input")
    signatures = _dictionary(headers, "signature")
    for label, member in inputs.items():
        if not isinstance(member, tuple) or not isinstance(member[0], list):
            raise SignatureError("Signature-Input member is not an inner list")
        items, params = member
        if not isinstance(params.get("keyid"), str) or label not in signatures:
            continue
        signature = signatures[label]
        value = signature[0] if isinstance(signature, tuple) else signature
        if not isinstance(value, bytes):
            raise SignatureError("Signature member is not a byte sequence")
        return Rfc9421Signature(
            label=label,
            components=tuple(_component(item) for item in items),
            params=dict(params),
            signature_params=http_sf.ser({label: member})[len(label) + 1 :],
            signature=value,
        )
    raise SignatureError("no signature with a keyid")


def _component(item: Any) -> str:
    name, params = item if isinstance(item, tuple) else (item, {})
    if not isinstance(name, str):
        raise SignatureError("covered component is not a string")
    if params:
        raise SignatureError(f"unsupported parameters on component {name}")
    return name


def signature_base(signature: Rfc9421Signature, method: str, url: str, headers: Mapping[str, str]) -> bytes:
    """Build the signature base (RFC 9421 section 2.5) for a request; headers keyed by lowercase name."""
    lines = []
    for name in signature.components:
        if name in signature.components[: signature.components.index(name)]:
            raise SignatureError(f"component {name} is covered twice")
        lines.append(f'"{name}": {_component_value(name, method, url, headers)}')
    lines.append(f'"@signature-params": {signature.signature_params}')
    return "\n".join(lines).encode("utf-8")


def _component_value(name: str, method: str, url: str, headers: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    derived = {
        "@method": method.upper(),
        "@target-uri": url,
        "@authority": authority(url),
        "@scheme": parts.scheme.lower(),
        "@request-target": request_target(url),
        "@path": parts.path or "/",
        "@query": f"?{parts.query}",
    }
    if name in derived:
        return derived[name]
    if name.startswith("@"):
        raise SignatureError(f"unsupported derived component {name}")
    if name not in headers:
        raise SignatureError(f"covered header {name} is missing")
    return headers[name].strip()


def verify(
    signature: Rfc9421Signature,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    key: PublicKey,
    now: float,
) -> None:
    """Check algorithm, coverage, times and body digest, then the signature itself."""
    _check_algorithm(signature.params.get("alg"), key)
    _check_coverage(signature.components, method, body)
    created = signature.params.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        raise SignatureError("signature has no created parameter")
    check_moment(created, now, "signature created")
    expires = signature.params.get("expires")
    if expires is not None:
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise SignatureError("signature expires parameter is not an integer")
        check_expires(expires, now)
    if "host" in signature.components:
        check_host(headers, url)
    if "date" in signature.components:
        check_date_header(headers, now)
    if needs_digest(method, body):
        check_body_digest(headers, body)
    check_signature(key, signature_base(signature, method, url, headers), signature.signature)


def _check_algorithm(alg: Any, key: PublicKey) -> None:
    kind = "rsa" if isinstance(key, rsa.RSAPublicKey) else "ed25519"
    if alg is None:
        return
    if not isinstance(alg, str) or alg not in _KEY_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {alg!r}")
    if _KEY_ALGORITHMS[alg] != kind:
        raise SignatureError(f"{alg} signature but the key is {kind}")


def _check_coverage(components: tuple[str, ...], method: str, body: bytes) -> None:
    if "@method" not in components:
        raise SignatureError("signature does not cover @method")
    has_target = "@target-uri" in components or (
        ("@authority" in components or "host" in components)
        and ("@path" in components or "@request-target" in components)
    )
    if not has_target:
        raise SignatureError("signature does not cover the target URI")
    if needs_digest(method, body) and "content-digest" not in components and "digest" not in components:
        raise SignatureError("signature does not cover content-digest")
