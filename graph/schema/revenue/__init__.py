"""Agents, customers, goals, outcomes and revenues, and what each agent earns against what it costs."""
