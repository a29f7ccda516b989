"""Virtual dimensions: rules declared in Terraform, computed by the allocation engine over a tenant's data."""
