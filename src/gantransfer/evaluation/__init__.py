"""Evaluation: accuracy and confusion matrices, Frechet distance, GAN quality, pictures."""
