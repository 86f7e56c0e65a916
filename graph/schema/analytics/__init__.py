"""Analytics in GraphQL: stats, breakdowns, funnels and retention over the one AnalyticsQuery engine (the analytics issue)."""
