"""``python -m aircraftml`` is the ``aircraftml`` command."""

from aircraftml.cli import main

main()
