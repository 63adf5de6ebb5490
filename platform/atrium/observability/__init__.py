"""Operations: structured JSON logs and Prometheus metrics (request latency, queues, jobs, GPUs)."""
