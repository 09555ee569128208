"""`python -m ragperf` is the `ragperf` command."""

from ragperf.cli.app import main

main()
