"""Seed 001, the LENS API, under /api/lens (the anomalies issue): anomalies, rules, chat, reports, usage."""
