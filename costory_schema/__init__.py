"""Behaviour declared in the proto options, read from the descriptors.

Shared by the provider shim (plan-time diagnostics, Terraform schema) and the control plane (request
validation), so a rule is written once, in proto/, and enforced the same way on both sides.
"""
