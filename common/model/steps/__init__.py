"""The model package: one module per pipeline step (prep, train, evaluate), runnable as `python -m`."""
