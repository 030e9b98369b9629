"""Every operation of every service, read from the OpenAPI document it serves, and requests to it
with real values where the test has them and well-formed made-up ones elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import httpx

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
EVERY_AUTHENTICATED_ROLE = frozenset({"family", "correspondent", "affiliate", "admin"})
# The parameters that name something a family, a school or an affiliate owns.
TENANT_PARAMETERS = frozenset({"school_id", "application_id", "wallet_id", "wallet_ids", "ticket_id", "affiliate_id",
                               "redemption_id", "email"})


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    spec: dict[str, Any] = field(repr=False)
    document: dict[str, Any] = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def roles(self) -> tuple[str, ...]:
        """Who may call it (`x-carnet-roles`); none: no token needed."""
        return tuple(self.spec.get("x-carnet-roles") or ())

    @property
    def service_scope(self) -> str | None:
        return self.spec.get("x-carnet-service-scope")

    @property
    def parameters(self) -> list[dict[str, Any]]:
        return [self.resolve(p) for p in self.spec.get("parameters", [])]

    def tenant_parameters(self, where: str | None = None) -> set[str]:
        return {p["name"] for p in self.parameters if p["name"] in TENANT_PARAMETERS and where in (None, p["in"])}

    @property
    def open_to_everyone(self) -> bool:
        """Every authenticated role may call it: what it shows is nobody's own (schools, campaigns)."""
        return EVERY_AUTHENTICATED_ROLE <= set(self.roles)

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def body_media_types(self) -> dict[str, Any]:
        return self.resolve(self.spec.get("requestBody", {})).get("content", {})


def operations(service: str, document: dict[str, Any]) -> list[Operation]:
    return [Operation(service, method, path, spec, document)
            for path, item in document.get("paths", {}).items()
            for method, spec in item.items() if method in HTTP_METHODS]


# --- values -------------------------------------------------------------------------------------------

def sample(op: Operation, schema: Any) -> Any:
    """A well-formed value of the documented type (the first choice of an enum, an `examples` entry)."""
    schema = op.resolve(schema or {})
    for choice in ("anyOf", "oneOf"):
        if choice in schema:
            options = [s for s in (op.resolve(s) for s in schema[choice]) if s.get("type") != "null"]
            return sample(op, options[0]) if options else None
    if "allOf" in schema:
        return sample(op, schema["allOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "array":
        return [sample(op, schema.get("items", {}))]
    if kind == "object" or "properties" in schema:
        return {name: sample(op, prop) for name, prop in schema.get("properties", {}).items()
                if name in schema.get("required", ())}
    return {
        "uuid": str(uuid.uuid4()), "date": date.today().isoformat(), "date-time": datetime.now(UTC).isoformat(),
        "email": "personne@example.org", "binary": "",
    }.get(schema.get("format", ""), f"sec-{uuid.uuid4().hex[:10]}")


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    content: bytes | None = None

    def describe(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.method} {self.url}{'?' + query if query else ''}"


# Bodies that pass validation for the tenant-scoped operations, so that an answer says who may act,
# not what the body lacks. Any other operation gets one made from its schema.
BODIES: dict[tuple[str, str], Callable[[Mapping[str, Any]], Any]] = {
    ("POST", "/v1/applications/{application_id}/reject"): lambda v: {"reason": "Élève inconnu du collège."},
    ("POST", "/v1/schools/{school_id}/paper-applications"): lambda v: v["application_form"],
    ("POST", "/v1/wallets/{wallet_id}/tickets/{ticket_id}/credit"): lambda v: {"amount_cents": 1000},
    ("PUT", "/v1/wallets/{wallet_id}/tickets/{ticket_id}/affiliate"): lambda v: {"affiliate_id": None},
    ("POST", "/v1/wallets/{wallet_id}/tickets/email"): lambda v: {},
    ("PATCH", "/v1/affiliates/{affiliate_id}"): lambda v: {"activity": "sport"},
    ("POST", "/v1/affiliates/{affiliate_id}/iban-change"): lambda v: {"iban": v["iban"]},
    ("POST", "/v1/affiliates/{affiliate_id}/iban-change/confirm"): lambda v: {"otp": "123456"},
    ("POST", "/v1/affiliates/{affiliate_id}/convention/read"): lambda v: {"sha256": "0" * 64},
    ("POST", "/v1/affiliates/{affiliate_id}/convention/sign"): lambda v: {"otp": "123456"},
    ("POST", "/v1/redemptions"): lambda v: {"ticket_code": v["ticket_code"]},
    ("POST", "/v1/redemptions/{redemption_id}/cancel"): lambda v: {"reason": "Erreur de caisse.", "then": "redeemable"},
}
ROSTER = "Nom;Prénom;Date de naissance;Niveau\r\nDurand;Élève;14/03/2013;6e\r\n".encode("cp1252")


def body(op: Operation, values: Mapping[str, Any]) -> tuple[bytes | None, str | None]:
    """The request body and its media type, or none when the operation takes none."""
    import json

    types = op.body_media_types()
    if not types:
        return None, None
    if "text/csv" in types:
        return ROSTER, "text/csv"
    try:
        value = BODIES[op.method.upper(), op.path](values)
    except KeyError:  # not a known operation, or no real value at hand
        value = sample(op, types.get("application/json", {}).get("schema", {}))
    return json.dumps(value).encode(), "application/json"


def call(op: Operation, base_url: str, values: Mapping[str, Any], *, token: str | None = None) -> Call:
    """The request to `op`: path and required parameters (and the tenant ones) from `values` when
    they are there, well-formed made-up ones otherwise."""
    path, params, headers = op.path, {}, {}
    for p in op.parameters:
        name, where = p["name"], p["in"]
        if where != "path" and not p.get("required") and name not in TENANT_PARAMETERS:
            continue
        value = values.get(name)
        if value is None:
            if where != "path" and not p.get("required"):
                continue
            value = sample(op, p.get("schema"))
        text = (",".join(map(str, value)) if isinstance(value, list)
                else str(value).lower() if isinstance(value, bool) else str(value))
        if where == "path":
            path = path.replace("{" + name + "}", quote(text, safe=""))
        elif where == "query":
            params[name] = text
        elif where == "header":
            headers[name] = text
    content, media_type = body(op, values)
    if media_type:
        headers["Content-Type"] = media_type
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Call(op.method.upper(), base_url + path, params, headers, content)


async def send(client: httpx.AsyncClient, request: Call) -> httpx.Response:
    return await client.request(request.method, request.url, params=request.params, headers=request.headers,
                                content=request.content)
