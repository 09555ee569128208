"""Output formats for run files: one module per format."""
