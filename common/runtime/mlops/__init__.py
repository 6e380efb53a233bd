"""Template-owned pipeline tooling; `copier update` keeps it current, so edit the template, not this."""
