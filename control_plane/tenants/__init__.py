"""Tenants: API tokens and the Google identity presented to each tenant's AWS roles."""
