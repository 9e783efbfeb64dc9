"""The standards index (the store): Markdown → chunks → embeddings → LanceDB, kept fresh by a watcher, searched.

Modules, one concern each: ``sources`` finds and safely reads files, ``chunker`` splits Markdown,
``embedder`` turns text into vectors, ``store`` is the LanceDB table, ``indexer`` reconciles the
table with the files, ``watcher`` turns file events into re-index batches, ``search`` ranks,
``counts`` keeps per-file query counts, ``status_file`` shares the index status with readers,
``commands`` are the CLI entry points.
"""
