"""Azure ML scale-out: the same slot as an Azure ML pipeline, its data assets and its endpoints.

Needs the `azure` extra (`uv sync --extra azure`); everything else in mlops works without it.
"""
