"""Training: MoCo v2 for the frame encoder (unsupervised, from the catalog's own episodes)."""
