"""Agents built on xtra-bench; each is a package registered in the ``xtra_bench.agents`` entry-point group."""
