"""Active learning: scoring strategies (scoring), slice/frame -> case aggregation (aggregate), the named
strategies (strategies), the queue ranking and batch selection (ranking), the human-free loop (simulation)
and small warm-startable torch learners for it (learners)."""
