"""The `lookalike` command line, a thin layer over `retrieval_app.core` and `trainer`."""
