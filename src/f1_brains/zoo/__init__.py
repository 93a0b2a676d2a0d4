"""The model pipeline: PilotNet, datasets from the explicit brain, training, exports to every format, optimized
variants and the offline benchmark (`f1-brains bench`)."""
