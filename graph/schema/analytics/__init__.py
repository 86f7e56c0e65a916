"""Analytics in GraphQL: aggregates, funnels, retention and insights over the one engine (resolvers/analytics)."""
