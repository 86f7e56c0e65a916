"""Experiments: stable assignment, exposure, results with their statistics, built on resolvers/analytics."""
