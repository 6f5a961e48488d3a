"""Everything one erasure request reaches: the person's customer ids, addresses, anonymous ids and phones.

A request names a customer id or an email; the warehouse knows the rest. The
CRM may have changed the address over time, so ids and emails are followed to
a fixed point through every table that holds both. Anonymous ids (devices)
belong to the person when they were only ever seen with them (identity
stitching, docs/meanings.md); a device also seen with another customer is kept, since
erasing it would erase part of somebody else. Phone numbers follow the same rule: a number
also held by another customer (a shared family line) is theirs too and stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from reengage.privacy.keys import key_hash, normalise
from reengage.privacy.tables import PersonalTable, quote

# Email <-> id hops before giving up; real chains are one or two long.
_MAX_ROUNDS = 5


@dataclass
class Identity:
    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)

    def keys(self) -> list[tuple[str, str]]:
        """(kind, forget-list hash) of every identifier."""
        out = []
        for kind, values in (
            ("customer_id", self.customer_ids),
            ("email", self.emails),
            ("anonymous_id", self.anonymous_ids),
            ("phone", self.phones),
        ):
            out += [(kind, key_hash(kind, value) or "") for value in sorted(values)]
        return out

    def values_of(self, kind: str) -> set[str]:
        by_kind = {
            "customer_id": self.customer_ids,
            "email": self.emails,
            "anonymous_id": self.anonymous_ids,
            "phone": self.phones,
        }
        return by_kind[kind]


def _in_list(values: set[str]) -> str:
    return ", ".join("?" * len(values))


def resolve(
    con: duckdb.DuckDBPyConnection,
    tables: list[PersonalTable],
    customer_id: str | None = None,
    email: str | None = None,
) -> Identity:
    """The person's identifiers as the warehouse knows them (the requested ones are always included)."""
    identity = Identity()
    if (cid := normalise("customer_id", customer_id)) is not None:
        identity.customer_ids.add(cid)
    if (mail := normalise("email", email)) is not None:
        identity.emails.add(mail)
    linking = [t for t in tables if t.of_kind("customer_id") and t.of_kind("email")]
    for _ in range(_MAX_ROUNDS):
        before = (len(identity.customer_ids), len(identity.emails))
        for table in linking:
            for id_column in table.of_kind("customer_id"):
                for email_column in table.of_kind("email"):
                    _follow(con, table, id_column, email_column, identity)
        if (len(identity.customer_ids), len(identity.emails)) == before:
            break
    identity.anonymous_ids = _own_values(con, tables, identity.customer_ids, "anonymous_id")
    identity.phones = _own_values(con, tables, identity.customer_ids, "phone")
    return identity


def _follow(
    con: duckdb.DuckDBPyConnection,
    table: PersonalTable,
    id_column: str,
    email_column: str,
    identity: Identity,
) -> None:
    ids, emails = sorted(identity.customer_ids), sorted(identity.emails)
    clauses, params = [], []
    if ids:
        clauses.append(f"trim({quote(id_column)}) in ({_in_list(set(ids))})")
        params += ids
    if emails:
        clauses.append(f"lower(trim({quote(email_column)})) in ({_in_list(set(emails))})")
        params += emails
    if not clauses:
        return
    rows = con.execute(
        f"select distinct {quote(id_column)}, {quote(email_column)} from {table.name} "
        f"where {' or '.join(clauses)}",
        params,
    ).fetchall()
    for found_id, found_email in rows:
        if (cid := normalise("customer_id", found_id)) is not None:
            identity.customer_ids.add(cid)
        if (mail := normalise("email", found_email)) is not None:
            identity.emails.add(mail)


def _own_values(
    con: duckdb.DuckDBPyConnection, tables: list[PersonalTable], customer_ids: set[str], kind: str
) -> set[str]:
    """Values of `kind` (anonymous ids, phones) seen with these customers and with no other customer,
    in any table pairing them."""
    if not customer_ids:
        return set()
    ids = sorted(customer_ids)
    pairing = [(t, c, a) for t in tables for c in t.of_kind("customer_id") for a in t.of_kind(kind)]
    seen: set[str] = set()
    for table, id_column, anon_column in pairing:
        rows = con.execute(
            f"select distinct {quote(anon_column)} from {table.name} "
            f"where trim({quote(id_column)}) in ({_in_list(customer_ids)}) "
            f"and {quote(anon_column)} is not null",
            ids,
        ).fetchall()
        seen |= {v for (value,) in rows if (v := normalise(kind, value)) is not None}
    if not seen:
        return set()
    shared: set[str] = set()
    devices = sorted(seen)
    for table, id_column, anon_column in pairing:
        rows = con.execute(
            f"select distinct {quote(anon_column)} from {table.name} "
            f"where {quote(anon_column)} in ({_in_list(seen)}) and {quote(id_column)} is not null "
            f"and trim({quote(id_column)}) not in ({_in_list(customer_ids)})",
            [*devices, *ids],
        ).fetchall()
        shared |= {str(value).strip() for (value,) in rows}
    return seen - shared
