"""The run engine: `ragperf run` and `ragperf leak` as a parent that supervises a measuring worker.

`runner` plans and finalises, `supervisor` owns the worker process and the signals, `worker` is
the measuring program, `events` and `stream` are the typed protocol between them.
"""
