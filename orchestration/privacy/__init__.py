"""GDPR/CCPA erasure: the forget list, the erasure of one person from every store, and its audit.

Pure logic without Dagster (the daily asset is in `orchestration/defs/privacy/`,
the command in `orchestration/cli.py`); docs/privacy.md explains the whole.

    keys.py         normalised, peppered hashes of identifiers (the only form kept)
    forget_list.py  privacy.forget_list: who may never come back; filters a day's export
    requests.py     erasure request files (CSV), read with file/row/column errors
    identity.py     every customer id, email and anonymous id one request reaches
    warehouse.py    delete the person from every warehouse table that names them
    audit.py        privacy.erasure_audit: one row per request, no plaintext identifiers
    erasure.py      one request through warehouse, send ledger and sink, idempotently
"""
