"""hotdash_ops."""
