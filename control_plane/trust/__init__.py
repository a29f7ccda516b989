"""Checking that a customer's AWS role trusts the tenant's Google identity, and nothing broader."""
