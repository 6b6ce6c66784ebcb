"""Where per-file work runs: on this machine's cores (:mod:`sarlang.engines.local`)."""
