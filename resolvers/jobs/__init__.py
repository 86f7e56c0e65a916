"""Background work (retention; to come: detection, reports, webhook deliveries).

Each run is claimed in the store (lease.py), so one process of those sharing a database runs it.
"""
