"""Statistics over measured queries: summaries, bottlenecks, targets, comparisons."""
