"""Projects, accounts and API keys over GraphQL. A key is returned once, when it is issued."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from graph.schema.analytics.fields import AnalyticsResult, Insights, run_insights, run_query
from graph.schema.analytics.inputs import AnalyticsQueryInput
from graph.schema.connection import Connection, Edge, PageInfo, encode_cursor
from graph.schema.context import Context
from graph.schema.experiments.fields import project_experiment, project_experiments
from graph.schema.experiments.types import Experiment, ExperimentStatus
from resolvers.jobs.retention import in_force
from resolvers.projects import accounts
from resolvers.projects import service as projects
from storage import models
from storage.contract import Page


@strawberry.type(description="A tenant: every query is scoped to the caller's project (an account's key names one).")
class Project:
    doc: strawberry.Private[models.Project]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at

    @strawberry.field
    def allowed_origins(self) -> list[str]:
        return self.doc.allowed_origins

    @strawberry.field(description="Days this project's sessions are kept after their last event; null: the default.")
    def retention_days(self) -> int | None:
        return self.doc.retention_days

    @strawberry.field(description="The retention that applies: the project's own, else the server's; null keeps all.")
    def retention_in_force(self, info: Info[Context, None]) -> int | None:
        return in_force(self.doc, info.context.services.limits.retention_days)

    @strawberry.field(description="Public, send-only token for browser trackers (?token=).")
    def tracker_token(self) -> str:
        return self.doc.tracker_token

    @strawberry.field(description="Any aggregate of this project's events or sessions (the analytics engine).")
    async def analytics(self, info: Info[Context, None], query: AnalyticsQueryInput) -> AnalyticsResult:
        projects.require_access(info.context.principal, self.doc)
        return await run_query(info.context, self.doc.id, query)

    @strawberry.field(description="This project's last `days` days against the days before.")
    async def insights(self, info: Info[Context, None], days: int = 7, kind: str = "tracker") -> Insights:
        projects.require_access(info.context.principal, self.doc)
        return await run_insights(info.context, self.doc.id, days, kind)

    @strawberry.field(description="This project's A/B experiments, newest first.")
    async def experiments(self, info: Info[Context, None], status: ExperimentStatus | None = None) -> list[Experiment]:
        projects.require_access(info.context.principal, self.doc)
        return await project_experiments(info.context, self.doc.id, status)

    @strawberry.field(description="This project's experiment of that name, or null.")
    async def experiment(self, info: Info[Context, None], name: str) -> Experiment | None:
        projects.require_access(info.context.principal, self.doc)
        return await project_experiment(info.context, self.doc.id, name)


@strawberry.type(description="Owns projects; its key (seed 003's account key) manages every one of them.")
class Account:
    doc: strawberry.Private[models.Account]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.doc.id)

    @strawberry.field
    def name(self) -> str:
        return self.doc.name

    @strawberry.field
    def tier(self) -> str:
        return self.doc.tier

    @strawberry.field(description="Most projects it may own; null: no limit.")
    def projects_limit(self) -> int | None:
        return self.doc.projects_limit

    @strawberry.field
    def created_at(self) -> datetime:
        return self.doc.created_at


@strawberry.type
class IssuedAccountKey:
    account: Account
    api_key: str = strawberry.field(description="Shown once: only its SHA-256 hash is stored.")


@strawberry.type
class IssuedKey:
    project: Project
    api_key: str = strawberry.field(description="Shown once: only its SHA-256 hash is stored.")


@strawberry.type
class ProjectQuery:
    @strawberry.field(description="The caller's project, or with the admin key any project.")
    async def projects(self, info: Info[Context, None], first: int = 100, offset: int = 0) -> Connection[Project]:
        ctx = info.context
        result = await projects.list_projects(ctx.services, ctx.principal, Page(limit=min(first, 1000), offset=offset))
        edges = [Edge(node=Project(doc=p), cursor=encode_cursor([offset + i])) for i, p in enumerate(result.items)]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=result.has_more, has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=result.total,
        )

    @strawberry.field(description="The caller's account, with an account key; null with any other key.")
    async def account(self, info: Info[Context, None]) -> Account | None:
        ctx = info.context
        if ctx.principal.account_id is None:
            return None
        return Account(doc=await accounts.get_account(ctx.services, ctx.principal))

    @strawberry.field
    async def project(self, info: Info[Context, None], id: strawberry.ID) -> Project:
        ctx = info.context
        return Project(doc=await projects.get_project(ctx.services, ctx.principal, str(id)))


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(description="Admin only. Returns the project's first API key, once.")
    async def create_project(
        self, info: Info[Context, None], name: str, allowed_origins: list[str] | None = None
    ) -> IssuedKey:
        ctx = info.context
        projects.require_admin(ctx.principal)
        issued = await projects.create_project(ctx.services, name, allowed_origins)
        return IssuedKey(project=Project(doc=issued.project), api_key=issued.api_key)

    @strawberry.mutation(description="Admin only. An account and its first API key, returned once.")
    async def create_account(
        self, info: Info[Context, None], name: str,
        projects_limit: Annotated[int | None, strawberry.argument(description="Null: no limit.")] = None,
        tier: str = "self-hosted",
    ) -> IssuedAccountKey:
        ctx = info.context
        projects.require_admin(ctx.principal)
        issued = await accounts.create_account(ctx.services, name, projects_limit=projects_limit, tier=tier)
        return IssuedAccountKey(account=Account(doc=issued.account), api_key=issued.api_key)

    @strawberry.mutation
    async def update_project(
        self, info: Info[Context, None], id: strawberry.ID, name: str | None = None,
        allowed_origins: list[str] | None = None,
        retention_days: Annotated[
            int | None, strawberry.argument(description="Admin only. Days to keep sessions; null: the default.")
        ] = strawberry.UNSET,
    ) -> Project:
        ctx = info.context
        retention = projects.KEEP if retention_days is strawberry.UNSET else retention_days
        project = await projects.update_project(
            ctx.services, ctx.principal, str(id), name=name, allowed_origins=allowed_origins,
            retention_days=retention,
        )
        return Project(doc=project)

    @strawberry.mutation(description="Admin only. Deletes the project and all its data.")
    async def delete_project(self, info: Info[Context, None], id: strawberry.ID) -> bool:
        ctx = info.context
        return await projects.delete_project(ctx.services, ctx.principal, str(id))

    @strawberry.mutation(description="Revokes every key of the project and issues a new one, shown once.")
    async def rotate_api_key(self, info: Info[Context, None], project_id: strawberry.ID) -> IssuedKey:
        ctx = info.context
        issued = await projects.rotate_key(ctx.services, ctx.principal, str(project_id))
        return IssuedKey(project=Project(doc=issued.project), api_key=issued.api_key)
