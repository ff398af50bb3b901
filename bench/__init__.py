"""Benchmarks: a raw Engine.IO/Socket.IO load generator, Tocsin against a Node reference.

``python -m bench.run`` (``make bench``) prints a table of figures with Tocsin/Node ratios and
writes ``bench/results/<timestamp>.json``.
"""
