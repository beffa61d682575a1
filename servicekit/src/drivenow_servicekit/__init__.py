"""Plumbing shared by DriveNow's Django services (not the domain: each service keeps its own).

Errors as problem+json, request ids, health probes, the /metrics view, pagination, settings and gunicorn helpers.
"""
