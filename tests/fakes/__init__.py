"""Stand-ins for outside services that tests and benchmarks run against (see ``llm_server``)."""
