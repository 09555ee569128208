"""The hostile-input cases of benchmarks/hostile_inputs.py, one module per family."""
