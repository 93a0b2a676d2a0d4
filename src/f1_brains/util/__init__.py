"""Small tools every layer uses: atomic JSON files, Markdown tables, latency percentiles, package paths, versions."""
