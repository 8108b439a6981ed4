"""Reports of benchmark results: the paper's tables, rliable aggregates, figures and HTML.

Computing (``store``, ``scores``, ``metrics``, ``bootstrap``, ``aggregates``, ``published``,
``build``) never imports matplotlib; only ``plots`` and the writers built on it do. The public
names below are imported on first use, so the command line starts without loading scipy.
"""

import importlib

_PUBLIC = {
    "AggregateConfig": "xtra_bench.report.aggregates",
    "Report": "xtra_bench.report.build",
    "ReportConfig": "xtra_bench.report.build",
    "build_report": "xtra_bench.report.build",
    "ResultsStore": "xtra_bench.report.store",
    "load_results": "xtra_bench.report.store",
    "write_report": "xtra_bench.report.output",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
