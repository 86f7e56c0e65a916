"""Webhooks: per-project endpoints, signed deliveries of LENS events, retried until delivered."""
