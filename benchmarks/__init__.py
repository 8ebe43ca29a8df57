"""The benchmark suite: tracker against the bare parts (the limit) and the `eventsourcing`
library (the peer), side by side in one run. `python -m benchmarks [--smoke]`."""
