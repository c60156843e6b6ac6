"""The open stage: files (decompression by content), the timeline of rotated logs,
the journal, and the daily report's cursors."""
