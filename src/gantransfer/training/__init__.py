"""Training: the shared loop, checkpoints, run folders and logging."""
