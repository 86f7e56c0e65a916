"""Analytics in GraphQL: stats, breakdowns, funnels and retention, over the one AnalyticsQuery engine.

To come with the analytics issue.
"""
