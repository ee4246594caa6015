"""Benchmarks of NVX: single-thread throughput, parallel scaling, free-threaded vs GIL, and
autobahn's WebSocket echo server end to end (modules: README.md, Layout; method:
benchmarks/README.md)."""
