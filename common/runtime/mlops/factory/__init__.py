"""The factory machinery: the CLI, the gate and the registry, promotion, fleet updates, Azure ML and the docs site.

Built on `mlops.pipeline`, which never imports it.
"""
