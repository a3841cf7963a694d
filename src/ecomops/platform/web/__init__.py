"""Console shell and shared HTTP plumbing (state, auth dependencies, error shape)."""
