"""`make bench` / `incidents bench`: a module per benchmark family, the table in run.py."""
