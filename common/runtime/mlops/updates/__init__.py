"""Template updates of a generated repository: apply a release and propose it as pull-request branches.

Prototypes and factories both ship this package; `mlops.factory` adds the factory's slots on top of it.
"""
