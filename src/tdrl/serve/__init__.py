"""tdrl's verifier for other RL engines: verl and OpenRLHF adapters, an HTTP reward server, verl parquet export.

The adapter modules (:mod:`.verl`, :mod:`.openrlhf`) need neither engine installed; they
are plain files an engine is pointed at. Problems travel with the data as ``labels`` /
``ground_truth`` (a problem's JSON), or as problem ids resolved through ``TDRL_PROBLEMS``
(a problems JSONL path), so reward workers on other machines need no shared state.
"""
