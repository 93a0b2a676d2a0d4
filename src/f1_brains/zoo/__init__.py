"""The model pipeline: network definitions, exports (and later dataset, training, optimization)."""
