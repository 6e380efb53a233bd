"""The pipeline machinery both repos ship: config loading, the pipeline spec, the local runner and tracking.

It imports nothing from `mlops.factory`, so prototypes ship it alone.
"""
