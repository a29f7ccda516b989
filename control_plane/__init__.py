"""Self-hostable Costory control plane: tenants, metrics datasources, served over gRPC."""
