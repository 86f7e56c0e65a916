"""Anomaly rules and detection on analytics metrics, acknowledgement, dismissal, webhooks, reports."""
