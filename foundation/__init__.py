"""General building blocks shared by the app and the trainer: atomic files, errors, the log file, devices,
image decoding.

Nothing here knows of the app (`retrieval_app`) or the trainer; both import it, and the import
contracts in pyproject.toml keep it that way.
"""
