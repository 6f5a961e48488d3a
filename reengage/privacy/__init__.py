"""GDPR/CCPA erasure: the forget list, the erasure of one person from every store, and its audit.

Pure logic without Dagster (the daily asset is in `reengage/defs/privacy/`,
the command in `reengage/cli.py`); docs/privacy.md explains the whole.

    keys.py            normalised, peppered hashes of identifiers (the only form kept); the pepper
    forget_list.py     privacy.forget_list: who may never come back; filters a day's export;
                       the pepper's fingerprint, checked before anything is loaded or erased
    requests.py        erasure request files (CSV), read with file/row/column errors
    identity.py        every customer id, email and anonymous id one request reaches
    tables.py          which warehouse tables name a person (by column name)
    warehouse_rows.py  delete the person from every warehouse table that names them
    warehouse_file.py  rewrite the DuckDB file so deleted rows leave no bytes in it
    audit.py           privacy.erasure_audit: one row per request, no plaintext identifiers
    erasure.py         requests through send ledger, sink and warehouse, idempotently, then the rewrite
"""
