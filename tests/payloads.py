"""A valid payload for each of the 18 event types, as seed 004 documents them."""

VALID = {
    "session_started": {"agentName": "Bot", "agentVersion": "2.1", "mcpClientInfo": {"name": "cli"}, "tags": ["a", "b"]},
    "session_ended": {"reason": "completed", "summary": "done", "totalToolCalls": 1, "totalDurationMs": 1200},
    "tool_call": {"toolName": "search", "callId": "c1", "arguments": {"query": "needle in haystack"}, "serverName": "mcp"},
    "tool_response": {"callId": "c1", "toolName": "search", "result": {"hits": 3}, "durationMs": 42},
    "tool_error": {"callId": "c2", "toolName": "fetch", "error": "timeout", "errorCode": "ETIMEDOUT", "durationMs": 30000},
    "approval_requested": {"requestId": "r1", "action": "deploy", "params": {"env": "prod"}, "urgency": "high"},
    "approval_granted": {"requestId": "r1", "action": "deploy", "decidedBy": "ana", "reason": "ok"},
    "approval_denied": {"requestId": "r2", "action": "delete", "decidedBy": "ana"},
    "approval_expired": {"requestId": "r3", "action": "delete", "decidedBy": "system"},
    "form_submitted": {"submissionId": "f1", "formId": "signup", "formName": "Sign up", "fieldCount": 4},
    "form_completed": {"submissionId": "f1", "formId": "signup", "completedBy": "user-9", "durationMs": 5000},
    "form_expired": {"submissionId": "f2", "formId": "signup", "expiredAfterMs": 60000},
    "llm_call": {"callId": "l1", "provider": "openai", "model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    "llm_response": {
        "callId": "l1", "provider": "openai", "model": "gpt-4o", "completion": "hello", "finishReason": "stop",
        "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120}, "costUsd": 0.0015, "latencyMs": 350,
    },
    "cost_tracked": {"provider": "openai", "model": "gpt-4o", "inputTokens": 10, "outputTokens": 5, "totalTokens": 15, "costUsd": 0.0002},
    "alert_triggered": {"alertRuleId": "ar1", "alertName": "cost", "condition": "gt", "currentValue": 12.5, "threshold": 10, "message": "over"},
    "alert_resolved": {"alertRuleId": "ar1", "alertName": "cost", "resolvedBy": "ana"},
    "custom": {"type": "note", "data": {"text": "free form"}},
}

# A required field of each type, removed to prove validation names it.
REQUIRED = {
    "session_ended": "reason", "tool_call": "toolName", "tool_response": "durationMs", "tool_error": "error",
    "approval_requested": "urgency", "approval_granted": "decidedBy", "approval_denied": "action",
    "approval_expired": "requestId", "form_submitted": "fieldCount", "form_completed": "completedBy",
    "form_expired": "expiredAfterMs", "llm_call": "messages", "llm_response": "usage", "cost_tracked": "costUsd",
    "alert_triggered": "threshold", "alert_resolved": "alertName", "custom": "type",
}
