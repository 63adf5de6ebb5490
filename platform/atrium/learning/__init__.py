"""Model registry, jobs (train, infer, reconstruct, ingest, report) and the active-learning queue."""
