"""What networks learn, on the engine's loop (:mod:`gantransfer.engine`): classifiers
(:mod:`.supervised`), the source GAN (:mod:`.pretrain`), image translation (:mod:`.translation`),
self-training, BatchNorm statistics, generated data, and the reference classifiers that score GANs."""
