"""Benchmarks of NVX: single-thread throughput, parallel scaling, free-threaded vs GIL.

* :mod:`~nvx_ft.bench.workloads` - payloads and one-call closures (shared by all);
* :mod:`~nvx_ft.bench.scaling` - the parallel-scaling harness, run inside one build;
* :mod:`~nvx_ft.bench.driver` - every build in one run (``nox -s bench``);
* :mod:`~nvx_ft.bench.report` - summary.md and scaling.png.
"""
