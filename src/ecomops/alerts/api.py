"""``/api/v1/t/{tenant}/alerts``: alert rules (CRUD), their firings, a test delivery and a run now.

Reading is ``alerts:read`` (every role); changing, test-firing and running is ``alerts:write``.
A rule with a webhook gets a signing secret that is returned once, on create (or on a rotate).
Each route parses, checks the permission and returns what its use case in ``alerts.service`` (or
``alerts.scheduler.run_now``) returns: the typed results of ``alerts.results``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from ecomops.alerts import scheduler, service
from ecomops.alerts.results import EvaluationResult, Rule, RuleEvent, RuleWithSecret
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/alerts", tags=["alerts"])
RuleId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]


def _blank_to_none(value: Any) -> Any:
    """HTML forms send "" for an empty field; an absent optional value is None here."""
    return None if isinstance(value, str) and value.strip() == "" else value


class RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["metric", "stock"] = "metric"
    metric: str | None = Field(default=None, max_length=40, description="Catalogue metric id (metric rules)")
    breakdown: str | None = Field(
        default=None, max_length=40, description="Filter dimension: a metrics breakdown, or category/product"
    )
    breakdown_value: str | None = Field(default=None, max_length=200, description="e.g. tmall")
    window: Literal["hour", "day"] = Field(default="day", description="Last complete hour or local day")
    condition: Literal["above", "below", "drop", "rise"] = "below"
    compare_to: Literal["previous", "last_week", "last_year"] | None = Field(
        default=None, description="For drop/rise: the period compared with"
    )
    threshold: Decimal = Field(
        description="Absolute value (above/below), percent (drop/rise) or days of cover (stock)"
    )
    volume_metric: str | None = Field(default=None, max_length=40, description="Count metric for min_volume")
    min_volume: int = Field(
        default=0, ge=0, le=service.MAX_VOLUME, description="Skip when the volume is below this"
    )
    cooldown_minutes: int = Field(default=60, ge=0, le=service.MAX_COOLDOWN_MINUTES)
    enabled: bool = True
    webhook_url: str | None = Field(default=None, max_length=2000)

    @field_validator(
        "metric", "breakdown", "breakdown_value", "compare_to", "volume_metric", "webhook_url", mode="before"
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)


class RuleIn(RuleFields):
    name: str = Field(min_length=1, max_length=200)


class RulePatch(BaseModel):
    """Only the fields present change; ``rotate_secret`` issues a new webhook signing secret."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Literal["metric", "stock"] | None = None
    metric: str | None = Field(default=None, max_length=40)
    breakdown: str | None = Field(default=None, max_length=40)
    breakdown_value: str | None = Field(default=None, max_length=200)
    window: Literal["hour", "day"] | None = None
    condition: Literal["above", "below", "drop", "rise"] | None = None
    compare_to: Literal["previous", "last_week", "last_year"] | None = None
    threshold: Decimal | None = None
    volume_metric: str | None = Field(default=None, max_length=40)
    min_volume: int | None = Field(default=None, ge=0, le=service.MAX_VOLUME)
    cooldown_minutes: int | None = Field(default=None, ge=0, le=service.MAX_COOLDOWN_MINUTES)
    enabled: bool | None = None
    webhook_url: str | None = Field(default=None, max_length=2000)
    rotate_secret: bool = False

    @field_validator(
        "metric", "breakdown", "breakdown_value", "compare_to", "volume_metric", "webhook_url", mode="before"
    )
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return _blank_to_none(value)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_ids: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=200, description="Only these rules (enabled or not); default: all enabled"
    )


def _spec_fields(body: BaseModel) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump().items() if k in service.RuleSpec.__dataclass_fields__}


@router.get("", response_model=list[Rule], summary="Alert rules")
async def list_rules(ctx: TenantDep, state: StateDep) -> list[Rule]:
    require(ctx, "alerts:read")
    return await run_in_threadpool(service.list_rules, state.engine, ctx.tenant.id)


@router.post(
    "",
    response_model=RuleWithSecret,
    status_code=201,
    summary="Create an alert rule (its webhook secret is shown once)",
    responses={409: {"description": "A rule with this name exists"}},
)
async def create_rule(body: RuleIn, ctx: TenantDep, state: StateDep) -> RuleWithSecret:
    require(ctx, "alerts:write")
    spec = service.RuleSpec(**_spec_fields(body))
    return await run_in_threadpool(service.create_rule, state.engine, state.settings, ctx.tenant.id, spec)


@router.get(
    "/events",
    response_model=list[RuleEvent],
    summary="Firings and test deliveries, newest first; ?format=csv|xlsx downloads all those kept",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_events(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    rule_id: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_EVENTS)] = 50,
    format: Annotated[
        Literal["csv", "xlsx"] | None,
        Query(description="Download every firing kept (not only `limit`) as CSV or .xlsx; audited"),
    ] = None,
) -> list[RuleEvent] | Response:
    require(ctx, "alerts:read")
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: service.export_events(state.engine, ctx.tenant, rule_id, fmt, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    return await run_in_threadpool(service.list_events, state.engine, ctx.tenant.id, rule_id, limit)


@router.post("/run", response_model=list[EvaluationResult], summary="Evaluate rules now (fires and delivers)")
async def run_rules(ctx: TenantDep, state: StateDep, body: RunIn | None = None) -> list[EvaluationResult]:
    require(ctx, "alerts:write")
    rule_ids = body.rule_ids if body is not None else None
    return await run_in_threadpool(scheduler.run_now, state, ctx.tenant, rule_ids)


@router.get("/{rule_id}", response_model=Rule, summary="One alert rule")
async def get_rule(rule_id: RuleId, ctx: TenantDep, state: StateDep) -> Rule:
    require(ctx, "alerts:read")
    return await run_in_threadpool(service.get_rule, state.engine, ctx.tenant.id, rule_id)


@router.patch("/{rule_id}", response_model=RuleWithSecret, summary="Change an alert rule")
async def update_rule(rule_id: RuleId, body: RulePatch, ctx: TenantDep, state: StateDep) -> RuleWithSecret:
    require(ctx, "alerts:write")
    changes = {k: v for k, v in _spec_fields(body).items() if k in body.model_fields_set}
    return await run_in_threadpool(
        lambda: service.update_rule(
            state.engine, state.settings, ctx.tenant.id, rule_id, changes, rotate_secret=body.rotate_secret
        )
    )


@router.delete("/{rule_id}", status_code=204, summary="Delete an alert rule and its firings")
async def delete_rule(rule_id: RuleId, ctx: TenantDep, state: StateDep) -> Response:
    require(ctx, "alerts:write")
    await run_in_threadpool(service.delete_rule, state.engine, ctx.tenant.id, rule_id)
    return Response(status_code=204)


@router.post(
    "/{rule_id}/test",
    response_model=EvaluationResult,
    summary="Send a test delivery to the rule's webhook",
    responses={422: {"description": "The rule has no webhook"}},
)
async def test_rule(rule_id: RuleId, ctx: TenantDep, state: StateDep) -> EvaluationResult:
    require(ctx, "alerts:write")
    return await run_in_threadpool(service.test_fire, state.engine, state.settings, ctx.tenant, rule_id)
