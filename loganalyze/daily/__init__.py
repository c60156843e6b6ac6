"""The daily report (``loganalyze report``): its run and its SQLite state."""
