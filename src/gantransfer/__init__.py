"""gantransfer: GAN-based transfer learning from a labelled source domain to a small target domain."""

__version__ = "0.1.0"
