"""Site objects: validation (schemas), cross-object checks, and the service functions that store them."""
