"""Benchmarks (run as modules from the repository root, e.g. ``python -m bench.quality_bench``).

They drive the real stack the way the tests do, and reuse the tests' helpers as packages: the
process launchers (``tests.redis_process``, ``tests.postgres_process``) and the scripted fake
Messages API (``tests.fakes.anthropic_api``). Nothing edits ``sys.path``; ``tests/test_house.py``
checks that, and that product code never imports ``tests`` or ``bench``.
"""
