"""The engine every algorithm runs on: the training loop (:mod:`.trainer`), checkpoints and exact
resume, run folders and their kinds, logging, devices, mixed precision and compilation, several GPUs,
seeding, and what names a run's settings (:mod:`.identity`). Nothing here knows a method."""
