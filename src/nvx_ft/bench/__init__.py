"""Benchmarks of NVX: single-thread throughput, parallel scaling, free-threaded vs GIL,
and autobahn's WebSocket echo server end to end.

* :mod:`~nvx_ft.bench.workloads` - payloads and one-call closures; :mod:`~nvx_ft.bench.
  stats` - medians, CVs, bootstrap intervals; :mod:`~nvx_ft.bench.machine` - CPUs, load,
  pinning; :mod:`~nvx_ft.bench.steadiness` - the machine's own noise;
* :mod:`~nvx_ft.bench.scaling` - the parallel-scaling harness, run inside one build;
  :mod:`~nvx_ft.bench.echo` / :mod:`~nvx_ft.bench.echo_load` - the echo server and load
  generator processes, :mod:`~nvx_ft.bench.echo_procs` - the driver's view of them;
* :mod:`~nvx_ft.bench.schedule` - one scheduler (interleaved rounds, reruns, budget) for
  every series; :mod:`~nvx_ft.bench.echo_run` - the echo points' windows;
* :mod:`~nvx_ft.bench.driver` - every build in one run (``nox -s bench``);
* :mod:`~nvx_ft.bench.figures` - what the results say; :mod:`~nvx_ft.bench.report` -
  summary.md and single_thread.md; :mod:`~nvx_ft.bench.plot` - scaling.png, echo.png.
"""
