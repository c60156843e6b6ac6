"""Postfix's own files: main.cf (the server's identity) and access tables
(parse, look up as check_helo_access does, merge, write atomically)."""
