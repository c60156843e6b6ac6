"""The judge stage: Postfix's HELO checks, DNS, SPF, the evidence and verdict, ban tools."""
