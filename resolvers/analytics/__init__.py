"""The one analytics engine: AnalyticsQuery (source, filters, time range, group-by, metrics), funnels, retention."""
