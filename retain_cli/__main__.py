"""``python -m retain_cli`` runs the CLI."""

from retain_cli.cli.main import main

main()
