"""Shared pipeline machinery: config loading, the pipeline spec, the local runner and tracking."""
