"""OpenAPI declarations of the native administration routes: plans (api.dialects.native.plans) and
tokens (api.dialects.native.tokens). Errors are seed 003's list of messages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.core.openapi import ModelType, Operation, Page, declare
from api.core.schemas import Accepted, PageQuery
from api.dialects.native.plan_schemas import PlanChanges, PlanFields, PlanView
from api.dialects.native.tokens import IssuedToken, TokenRequest, TokenView

PLANS = "/api/v1/plans"
TOKENS = "/api/v1/tokens"


class PlanPath(BaseModel):
    plan_id: int = Field(ge=1, description="Plan 1 is the default plan.")


class TokenPath(BaseModel):
    token_id: UUID


def _admin(
    method: str, route: str, summary: str, responses: dict[int, ModelType | None], **kw: Any
) -> None:
    tag = "plans" if route.startswith(PLANS) else "tokens"
    if "{" in route:
        kw.setdefault("path", PlanPath if tag == "plans" else TokenPath)
    declare(method, route, Operation(summary, responses, tags=(tag,), **kw))


def _create(route: str, summary: str, answer: ModelType, body: ModelType) -> None:
    _admin("POST", route, summary, {201: answer}, body=body, body_required=True)


def declare_plans() -> None:
    one = f"{PLANS}/{{plan_id}}"
    _create(PLANS, "create and deploy a plan", PlanView, PlanFields)
    _admin("GET", PLANS, "list plans", {200: Page[PlanView]}, query=PageQuery)
    _admin("GET", one, "one plan", {200: PlanView})
    _admin(
        "PUT", one, "stage changes (deploy puts them in force)", {200: PlanView}, body=PlanChanges
    )
    _admin("POST", f"{one}/deploy", "deploy the staged changes", {200: PlanView})
    _admin("POST", f"{one}/pause", "pause the schedule (and retention)", {200: PlanView})
    _admin("POST", f"{one}/resume", "resume the schedule", {200: PlanView})
    _admin("POST", f"{one}/run", "start a backup with the deployed settings", {202: Accepted})
    _admin("DELETE", one, "delete a plan (its backups stay)", {204: None})


def declare_tokens() -> None:
    _create(TOKENS, "issue a token (its secret is in this answer only)", IssuedToken, TokenRequest)
    _admin("GET", TOKENS, "list tokens, newest first", {200: Page[TokenView]}, query=PageQuery)
    _admin("DELETE", f"{TOKENS}/{{token_id}}", "revoke a token (idempotent)", {200: TokenView})
