"""Webhook endpoints and their deliveries in GraphQL."""
