"""Studies that measure what the stages achieve end to end (``tdrl study ...``)."""
