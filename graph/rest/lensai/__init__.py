"""Seed 000, LensAI, under /v1 (the revenue issue): agents, customers, goal types, goals, outcomes, revenues."""
