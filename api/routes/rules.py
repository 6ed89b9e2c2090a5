"""The rule pack in force: list it with hit counts (viewers), reload it (admins, audited)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import AdminDep, AuditDep, RulesDep, StoreDep, ViewerDep
from api.masking import MaskedRoute
from api.schemas import RulePublic, RulesPublic

router = APIRouter(prefix="/v1/rules", tags=["rules"], route_class=MaskedRoute)


def _public(rules: RulesDep, store: StoreDep) -> RulesPublic:
    pack = rules.pack
    hits, shadow = store.rule_hit_counts(), store.shadow_hit_counts()
    data = [
        RulePublic(
            id=r.id,
            description=r.spec.description,
            applies_to=sorted(r.spec.applies_to),
            severity=r.spec.severity,
            score=r.spec.score,
            mode=r.spec.mode,
            actions=list(r.spec.actions),
            queue=r.spec.queue,
            cooldown_s=float(getattr(r.spec, "cooldown", 0.0) or 0.0),
            source=f"{r.file}:{r.line}",
            hits=hits.get(r.id, 0),
            shadow_hits=shadow.get(r.id, 0),
        )
        for r in pack.rules
    ]
    return RulesPublic(
        version=pack.version,
        source=pack.source,
        loaded_at=datetime.fromtimestamp(rules.loaded_at, UTC),
        last_reload_problems=list(rules.last_problems),
        data=data,
        count=len(data),
    )


@router.get("", summary="The rule pack in force, with hits per rule", response_model=RulesPublic)
def list_rules(_: ViewerDep, rules: RulesDep, store: StoreDep) -> RulesPublic:
    return _public(rules, store)


@router.post(
    "/reload",
    summary="Reload the rule pack from disk (admin); a pack that fails validation or its "
    "own tests is refused and the previous one stays in force",
    response_model=RulesPublic,
    responses={422: {"description": "refused: the problems, as file:line"}},
)
def reload_rules(
    _: AdminDep, who: AuditDep, rules: RulesDep, store: StoreDep
) -> RulesPublic | JSONResponse:
    before = rules.pack.version
    outcome = rules.reload()
    after: dict[str, object] = {"version": outcome.version, "ok": outcome.ok}
    if not outcome.ok:
        after["problems"] = outcome.problems
    store.audit(
        who.actor,
        who.role,
        "rules_reload",
        "rule_pack",
        before={"version": before},
        after=after,
        request_id=who.request_id,
    )
    if not outcome.ok:
        return JSONResponse(
            status_code=422,
            content={
                "detail": "rule pack refused; the previous one stays in force",
                "version_in_force": outcome.version,
                "problems": outcome.problems,
            },
        )
    return _public(rules, store)
