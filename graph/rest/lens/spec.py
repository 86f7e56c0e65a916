"""Seed 001's operations: each route once, with its document and the example requests the OpenAPI test sends."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from graph.rest.lens import handlers, webhooks
from graph.rest.lens.handlers import DEFAULT_LIMIT, MAX_LIMIT
from graph.rest.lens.webhooks import DeletedOut, DeliveryOut, WebhookCreatedOut, WebhookOut
from graph.rest.lens.wire import (
    AcknowledgedOut,
    AnomalyOut,
    AnomalySummaryOut,
    ChatAnswerOut,
    ChatUsageOut,
    DismissedOut,
    ErrorOut,
    ReportOut,
    RuleCreatedOut,
    RuleOut,
    RuleSummaryOut,
    UsageOut,
    envelope,
)
from graph.rest.openapi import Example, Offset, Operation, Param, Spec
from resolvers.anomalies.rules import RuleIn, RulePatch
from resolvers.anomalies.service import DismissIn, NoteIn
from resolvers.assistant.service import ChatIn
from resolvers.core.bounds import ProjectRef
from resolvers.webhooks.service import WebhookIn, WebhookPatch

Limit = Annotated[int, Field(ge=1)]
ACCOUNT = Param("account_id", "query", "The account: a project id or name (an account key may give its account's "
                                       "id); default the key's own project", ProjectRef, names_project=True)
PAGE = (Param("limit", "query", f"Max results (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})", Limit,
              default=DEFAULT_LIMIT),
        Param("offset", "query", "Pagination offset", Offset, default=0))
ANOMALY = Param("anomaly_id", "path", "The anomaly's id (anom_...)")
RULE = Param("rule_id", "path", "The rule's id (a system rule's name, or custom_rule_NNN)")
MISSING = {404: "No such anomaly or rule in this account"}
NO_ACCOUNT = {404: "The body's account_id names no project the caller may use"}
GOOD_RULE = {"name": "High-Value Orders Drop", "metric": {"type": "count", "event": "conversion",
             "filters": [{"field": "amount", "operator": "greater_than", "value": 500}]},
             "comparison": {"type": "vs_previous_7_days"}, "threshold": {"direction": "decrease", "percentage": 30},
             "alert": {"severity": "high", "cooldown_hours": 8, "channels": ["email", "slack"]}}
class RedeliverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str | None = None


WEBHOOK = Param("webhook_id", "path", "The webhook's id (wh_...)")
NO_WEBHOOK = {404: "No such webhook in this account"}
GOOD_WEBHOOK = {"url": "https://93.184.215.14/lens-hooks", "events": ["anomaly.detected", "anomaly.resolved"],
                "description": "on-call pager"}

OPERATIONS = (
    Operation("POST", "/chat", handlers.chat, "Send a question to the AI assistant: answered from the account's data",
              {200: (envelope("ChatOut", ChatAnswerOut, usage=ChatUsageOut),
                     "The answer and this month's usage; the header X-LENS-Phrased-By names the model that worded "
                     "the text, if one did")},
              body=ChatIn, errors={**NO_ACCOUNT, 400: "INVALID_QUESTION (with suggestions), or a malformed body",
                                   429: "QUESTION_LIMIT_EXCEEDED, or RATE_LIMIT_EXCEEDED",
                                   415: "The body is not application/json"},
              examples=(Example("answered", 200, body={"account_id": "default",
                                                       "question": "How many sessions last week?"}),
                        Example("vague", 400, body={"account_id": "default", "question": "hello there"}),
                        Example("no_account", 400, body={"question": "How many sessions last week?"}),
                        Example("unknown_account", 404, body={"account_id": "no-such-account",
                                                              "question": "How many sessions last week?"}))),
    Operation("GET", "/anomalies", handlers.list_anomalies, "List detected anomalies, newest first",
              {200: (envelope("AnomalyListOut", list[AnomalySummaryOut], paginated=True), "One page and the total")},
              params=(Param("account_id", "query", ACCOUNT.description, ProjectRef, required=True, names_project=True),
                      Param("date_range", "query", "detected in: today, yesterday, last_24_hours, last_N_days, "
                                                   "this_week, last_week, this_month, last_month or "
                                                   "YYYY-MM-DD..YYYY-MM-DD"),
                      Param("severity", "query", "Filter by severity", enum=("critical", "high", "medium", "low")),
                      Param("status", "query", "Filter by status",
                            enum=("open", "acknowledged", "dismissed", "resolved")),
                      Param("rule_id", "query", "Filter by specific rule"), *PAGE),
              examples=(Example("all", 200, query={"account_id": "default"}),
                        Example("no_account", 400),
                        Example("unknown_account", 404, query={"account_id": "no-such-account"}),
                        Example("bad_severity", 400, query={"account_id": "default", "severity": "dire"}))),
    Operation("GET", "/anomalies/{anomaly_id}", handlers.get_anomaly, "Get anomaly details",
              {200: (envelope("AnomalyDetailOut", AnomalyOut), "The anomaly")}, params=(ANOMALY, ACCOUNT),
              errors=MISSING, examples=(Example("missing", 404, path={"anomaly_id": "anom_missing"}),)),
    Operation("POST", "/anomalies/{anomaly_id}/acknowledge", handlers.acknowledge_anomaly, "Acknowledge an anomaly",
              {200: (envelope("AcknowledgeOut", AcknowledgedOut), "The anomaly, acknowledged")}, body=NoteIn,
              params=(ANOMALY,), errors={**MISSING, 409: "The anomaly is dismissed or resolved",
                                         415: "The body is not application/json"},
              examples=(Example("missing", 404, path={"anomaly_id": "anom_missing"}, body={"note": "looking"}),)),
    Operation("POST", "/anomalies/{anomaly_id}/dismiss", handlers.dismiss_anomaly,
              "Dismiss an anomaly (a false positive, an expected change...)",
              {200: (envelope("DismissOut", DismissedOut), "The anomaly, dismissed")}, body=DismissIn,
              params=(ANOMALY,), errors={**MISSING, 409: "The anomaly is already dismissed, or resolved",
                                         415: "The body is not application/json"},
              examples=(Example("bad_reason", 400, path={"anomaly_id": "anom_missing"}, body={"reason": "bored"}),)),
    Operation("GET", "/rules", handlers.list_rules, "List detection rules: the system rules, then custom rules",
              {200: (envelope("RuleListOut", list[RuleSummaryOut]), "The account's rules")},
              params=(ACCOUNT, Param("category", "query", "conversions, traffic, engagement, agents or custom"),
                      Param("enabled", "query", "true or false", bool)),
              examples=(Example("all", 200), Example("enabled", 200, query={"enabled": "true"}),
                        Example("bad_enabled", 400, query={"enabled": "maybe"}))),
    Operation("GET", "/rules/{rule_id}", handlers.get_rule, "Get rule details",
              {200: (envelope("RuleDetailOut", RuleOut), "The rule")}, params=(RULE, ACCOUNT), errors=MISSING,
              examples=(Example("system", 200, path={"rule_id": "traffic_drop"}),
                        Example("missing", 404, path={"rule_id": "custom_rule_999"}))),
    Operation("POST", "/rules", handlers.create_rule, "Create a custom detection rule",
              {201: (envelope("RuleCreateOut", RuleCreatedOut), "The rule")}, body=RuleIn,
              errors={**NO_ACCOUNT, 415: "The body is not application/json"},
              examples=(Example("created", 201, body=GOOD_RULE),
                        Example("unknown_account", 404, body={**GOOD_RULE, "account_id": "no-such-account"}),
                        Example("unknown_metric", 400, body={**GOOD_RULE, "metric": {"type": "vibes"}}))),
    Operation("PATCH", "/rules/{rule_id}", handlers.update_rule, "Update a rule (enable or disable, threshold...)",
              {200: (envelope("RuleUpdateOut", RuleOut), "The changed rule")}, body=RulePatch, params=(RULE,),
              errors={**MISSING, 415: "The body is not application/json"},
              examples=(Example("disable", 200, path={"rule_id": "bounce_rate_spike"},
                                body={"enabled": False, "threshold": {"percentage": 25}}),
                        Example("missing", 404, path={"rule_id": "custom_rule_999"}, body={"enabled": False}))),
    Operation("GET", "/reports", handlers.list_reports, "List generated reports, newest period first",
              {200: (envelope("ReportListOut", list[ReportOut], paginated=True), "One page and the total")},
              params=(ACCOUNT, *PAGE), examples=(Example("all", 200),)),
    Operation("GET", "/webhooks", webhooks.list_webhooks, "List the account's webhook endpoints, oldest first",
              {200: (envelope("WebhookListOut", list[WebhookOut]), "The endpoints (their secrets are not shown)")},
              params=(ACCOUNT,), examples=(Example("all", 200),)),
    Operation("POST", "/webhooks", webhooks.create_webhook,
              "Create a webhook endpoint for some of anomaly.detected, anomaly.resolved, report.generated and "
              "question.answered; the answer shows its signing secret, once",
              {201: (envelope("WebhookCreateOut", WebhookCreatedOut), "The endpoint and its secret")},
              body=WebhookIn, errors={**NO_ACCOUNT, 415: "The body is not application/json"},
              description="The URL must be http(s) and reach a public address (private, loopback and link-local "
                          "ones are refused unless the server allows them); a project has at most "
                          "LENSGRAPH_WEBHOOKS_PER_PROJECT endpoints.",
              examples=(Example("created", 201, body=GOOD_WEBHOOK),
                        Example("unknown_account", 404, body={**GOOD_WEBHOOK, "account_id": "no-such-account"}),
                        Example("loopback", 400, body={**GOOD_WEBHOOK, "url": "http://127.0.0.1:8080/hook"}),
                        Example("metadata", 400, body={**GOOD_WEBHOOK, "url": "http://169.254.169.254/latest"}),
                        Example("unknown_event", 400, body={**GOOD_WEBHOOK, "events": ["anomaly.exploded"]}),
                        Example("not_http", 400, body={**GOOD_WEBHOOK, "url": "ftp://example.com/x"}))),
    Operation("GET", "/webhooks/{webhook_id}", webhooks.get_webhook, "Get a webhook endpoint",
              {200: (envelope("WebhookDetailOut", WebhookOut), "The endpoint")}, params=(WEBHOOK, ACCOUNT),
              errors=NO_WEBHOOK, examples=(Example("missing", 404, path={"webhook_id": "wh_missing"}),)),
    Operation("PATCH", "/webhooks/{webhook_id}", webhooks.update_webhook,
              "Change a webhook endpoint: its URL, events, description, or enable or disable it",
              {200: (envelope("WebhookUpdateOut", WebhookOut), "The changed endpoint")}, body=WebhookPatch,
              params=(WEBHOOK,), errors={**NO_WEBHOOK, 415: "The body is not application/json"},
              examples=(Example("missing", 404, path={"webhook_id": "wh_missing"}, body={"enabled": False}),
                        Example("bad_url", 400, path={"webhook_id": "wh_missing"}, body={"url": "not a url"}))),
    Operation("DELETE", "/webhooks/{webhook_id}", webhooks.delete_webhook,
              "Delete a webhook endpoint and its delivery records",
              {200: (envelope("WebhookDeleteOut", DeletedOut), "Deleted")}, params=(WEBHOOK, ACCOUNT),
              errors=NO_WEBHOOK, examples=(Example("missing", 404, path={"webhook_id": "wh_missing"}),)),
    Operation("GET", "/webhooks/{webhook_id}/deliveries", webhooks.list_deliveries,
              "List an endpoint's deliveries, newest first, with every attempt",
              {200: (envelope("DeliveryListOut", list[DeliveryOut], paginated=True), "One page and the total")},
              params=(WEBHOOK, ACCOUNT, Param("status", "query", "pending, delivered or failed (comma-separated)"),
                      *PAGE),
              errors=NO_WEBHOOK, examples=(Example("missing", 404, path={"webhook_id": "wh_missing"}),)),
    Operation("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", webhooks.redeliver,
              "Send a delivered or failed delivery again (the same event id and body), due now",
              {200: (envelope("RedeliverOut", DeliveryOut), "The delivery, pending again")},
              body=RedeliverIn, params=(WEBHOOK, Param("delivery_id", "path", "The delivery's id (whd_...)")),
              errors={404: "No such webhook or delivery in this account", 409: "The delivery is pending already",
                      415: "The body is not application/json"},
              examples=(Example("missing", 404, path={"webhook_id": "wh_missing", "delivery_id": "whd_missing"}),)),
    Operation("GET", "/usage", handlers.get_usage, "Get the assistant's question usage this month",
              {200: (envelope("UsageDetailOut", UsageOut), "This calendar month's questions (UTC)")},
              params=(ACCOUNT,), examples=(Example("month", 200),
                                           Example("unknown_account", 404, query={"account_id": "no-such-account"}))),
)

SPEC = Spec(
    slug="lens",
    title="LENS API (seed 001)",
    version="1.0.0",
    description=(handlers.__doc__ or "").strip(),
    error=ErrorOut,
    schemes={"Bearer": {"type": "http", "scheme": "bearer"}},
    default_security=("Bearer",),
    operations=OPERATIONS,
)
