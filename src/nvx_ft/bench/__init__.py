"""Benchmarks of NVX: single-thread throughput, parallel scaling, free-threaded vs GIL.

* :mod:`~nvx_ft.bench.workloads` - payloads and one-call closures (shared by all);
* :mod:`~nvx_ft.bench.scaling` - the parallel-scaling harness, run inside one build;
* :mod:`~nvx_ft.bench.driver` - every build in one run (``nox -s bench``);
* :mod:`~nvx_ft.bench.findings` - what the results say (findings, single-thread cost);
* :mod:`~nvx_ft.bench.report` - summary.md and single_thread.md;
* :mod:`~nvx_ft.bench.plot` - scaling.png.
"""
