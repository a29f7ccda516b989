"""Terraform provider (plugin protocol v6) translating Terraform RPCs into control-plane gRPC calls."""
