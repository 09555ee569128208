"""Memory per stage: cheap RSS/heap/peak readings, leak-mode series, allocation-site snapshots."""
