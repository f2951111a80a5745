"""The command line: a thin Typer shell over the library. No SQL, pandas or Jinja here."""
