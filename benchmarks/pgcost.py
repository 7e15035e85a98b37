"""What the checkout pipeline costs Postgres, per order (used by benchmarks/bench.py).

`snapshot(run)` reads, in one go, the cluster's WAL position (pg_current_wal_insert_lsn), pg_stat_wal,
pg_stat_database of the run's databases (`<run>_<service>`, `<run>_bus`) and pg_stat_statements rows of
those databases. `wal_accounting(start_lsn, end_lsn, run)` reads the WAL between two snapshots back with
pg_waldump and gives every committed write transaction of the run a category from the database and
the tables it wrote (never from SQL text: statements and table names of the messaging code change):

  bus: store | claim | claim + delete | delete | ...   a transaction in `<run>_bus`, by what it did to
                                                       the bus's tables (INSERT / UPDATE / DELETE records)
  outbox relay (<service>)                             in a service's database, only the `outbox` table,
                                                       and no row inserted into it (marks or deletes)
  business (<service>)                                 any other in a service's database
  maintenance (<service>)                              only system catalogs (ANALYZE, DDL)

  no transaction (run databases)                      records of the run's databases outside any
                                                       transaction: pruning, vacuum, hint-bit page images
  unfinished at the window's edges, rolled back: ...   the rest of the run's WAL

Within each category the WAL is also split by table, relation and record kind ("by_relation"): a record
counts for the relation of its first block reference (the table itself, "heap", or one of its indexes,
"index <name>"; TOAST and sequences count for their table), records without one (COMMIT) for "—".

Everything else in the window (other databases of the cluster, e.g. a test run beside the bench;
checkpoints) is "outside the run", by resource manager and record kind. `cost(before, after, run,
completed, made)` puts it all together for one step: totals, and the same per completed order and per
order made.

The counters of pg_stat_wal and pg_stat_database reach shared memory when a backend flushes its own
(at most once a second while busy, within 10 s once idle): they lag a little behind the step. The
WAL-based figures (commits, WAL bytes, records, page images) are exact for the window.
Anything that is unavailable (no pg_stat_statements, no pg_waldump, WAL already recycled) is None.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

PG_URL = os.environ.get("PG_URL", "postgres://swn:swn@127.0.0.1:%s" % os.environ.get("PGPORT", "55432"))
PGDATA_DIR = os.environ.get("PGDATA_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".data", "postgres"))
PSQL = next((p for p in ["/usr/bin/psql"] + sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[::-1] if os.path.exists(p)), "psql")

# Commit categories (or groups) whose transactions do not wait for a WAL flush, so "durable commits"
# leave them out. Since the bus plumbing change (#26) the local bus's connections and the relay's
# delete commit with synchronous_commit=off (a bus store waits for the disk only when the publishing
# service's database is on another Postgres; the bench runs all on one). BENCH_ASYNCHRONOUS overrides
# it (comma-separated; empty for a build from before that change). A new e-mail's claim in
# notification-service commits with synchronous_commit=off too (issue 29's hand-off).
ASYNCHRONOUS = frozenset(x.strip() for x in os.environ.get("BENCH_ASYNCHRONOUS", "bus,outbox relay,business (notification): claim").split(",") if x.strip())

# Statements bench.py itself runs in the run's databases (polling for the drain) start with this comment.
BENCH_MARK = "/* bench */"

GROUPS = ("business", "outbox relay", "bus", "other")
_HEAP_KIND = {"INSERT": "insert", "MULTI_INSERT": "insert", "UPDATE": "update", "HOT_UPDATE": "update",
              "DELETE": "delete", "LOCK": "lock", "LOCK_UPDATED": "lock"}
_RECORD = re.compile(r"^rmgr: (\S+)\s+len \(rec/tot\):\s*(\d+)/\s*(\d+), tx:\s*(\d+), lsn: ([0-9A-Fa-f]+/[0-9A-Fa-f]+), prev \S+, desc: (.*)$")
_BLOCK = re.compile(r"blkref #\d+: rel (\d+)/(\d+)/(\d+)([^,]*)")


# --- helpers ------------------------------------------------------------------------------------

def _psql_json(database, sql):
    """One JSON value from `sql` (run as swn over TCP), or None when the query fails."""
    out = subprocess.run([PSQL, "%s/%s" % (PG_URL, database), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return json.loads(out.stdout.strip())


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def _in_run(datname, run):
    return datname.startswith(run + "_") and not datname.endswith("_pgbench")


def short_name(datname, run):
    return datname[len(run) + 1:] if datname.startswith(run + "_") else datname


def lsn_int(lsn):
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def pg_waldump():
    psql_dir = os.path.dirname(PSQL) if os.path.isabs(PSQL) else ""
    candidates = [os.path.join(psql_dir, "pg_waldump")] if psql_dir else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_waldump"), key=lambda p: [int(x) for x in re.findall(r"\d+", p)])[::-1]
    found = next((p for p in candidates if os.path.exists(p)), None)
    return found or shutil.which("pg_waldump")


def shorten(query, width=90):
    text = " ".join(query.split())
    return text if len(text) <= width else text[:width - 1] + "…"


# --- snapshot -----------------------------------------------------------------------------------

def snapshot(run):
    """The cluster's counters now. Keys: time, lsn, wal, databases (per database name),
    statements (list, or None without pg_stat_statements)."""
    prefix = _literal(run + "_")
    sql = """
        SELECT json_build_object(
          'time', extract(epoch FROM clock_timestamp()),
          'lsn', pg_current_wal_insert_lsn()::text,
          'wal', (SELECT row_to_json(w) FROM (SELECT wal_records, wal_fpi, wal_bytes::bigint AS wal_bytes, wal_buffers_full,
                                                     wal_write, wal_sync FROM pg_stat_wal) w),
          'databases', (SELECT coalesce(json_object_agg(datname, json_build_object(
                            'oid', datid, 'xact_commit', xact_commit, 'xact_rollback', xact_rollback,
                            'tup_inserted', tup_inserted, 'tup_updated', tup_updated, 'tup_deleted', tup_deleted)), '{}')
                        FROM pg_stat_database WHERE left(datname, length(%(p)s)) = %(p)s AND datname NOT LIKE '%%\\_pgbench'))
    """ % {"p": prefix}
    snap = _psql_json("postgres", sql)
    if snap is None:
        return None
    snap["statements"] = _psql_json("postgres", """
        SELECT coalesce(json_agg(json_build_array(d.datname, s.userid, s.queryid::text, s.toplevel, s.calls, s.rows,
                                                  s.total_exec_time, s.query)), '[]')
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE left(d.datname, length(%(p)s)) = %(p)s""" % {"p": prefix})
    return snap


def _statement_key(row):
    return (row[0], row[1], row[2], row[3])  # database, user, queryid, top level


def statement_delta(before, after, run):
    """Per statement (database short name, query, top level): calls, rows and milliseconds between the
    snapshots; None without pg_stat_statements. An entry new since `before` counts from zero."""
    if before is None or after is None:
        return None
    old = {_statement_key(r): r for r in before}
    result = []
    for row in after:
        prior = old.get(_statement_key(row))
        calls = row[4] - (prior[4] if prior else 0)
        if calls <= 0:
            continue
        result.append({"db": short_name(row[0], run), "query": row[7], "toplevel": bool(row[3]), "calls": calls,
                       "rows": row[5] - (prior[5] if prior else 0), "ms": row[6] - (prior[6] if prior else 0.0)})
    result.sort(key=lambda s: -s["calls"])
    return result


# --- the WAL, record by record -------------------------------------------------------------------

def relations(run):
    """{database oid: (database name, {relfilenode: (table, is_catalog)}, {relfilenode: relation})} of the
    run's databases: an index maps to its table, a TOAST table (and its index) to the table it belongs to,
    a sequence to the table that owns it (serial / identity). The relation says which of the table's files
    it is: "heap" (the table itself), "index <name>", "toast", "sequence <name>"."""
    databases = _psql_json("postgres", """
        SELECT coalesce(json_object_agg(oid::text, datname), '{}') FROM pg_database
        WHERE left(datname, length(%(p)s)) = %(p)s AND datname NOT LIKE '%%\\_pgbench'""" % {"p": _literal(run + "_")}) or {}
    result = {}
    for oid, name in databases.items():
        rows = _psql_json(name, """
            WITH rel AS (
              SELECT c.oid,
                     CASE WHEN c.relkind IN ('i', 'I') THEN (SELECT indrelid FROM pg_index WHERE indexrelid = c.oid)
                          WHEN c.relkind = 'S' THEN coalesce((SELECT refobjid FROM pg_depend WHERE classid = 'pg_class'::regclass
                                   AND objid = c.oid AND refclassid = 'pg_class'::regclass AND deptype IN ('a', 'i') LIMIT 1), c.oid)
                          ELSE c.oid END AS base
              FROM pg_class c
            ), owner AS (
              SELECT r.oid, coalesce((SELECT t.oid FROM pg_class t WHERE t.reltoastrelid = r.base), r.base) AS table_oid FROM rel r
            )
            SELECT coalesce(json_agg(json_build_array(pg_relation_filenode(o.oid), n.nspname, t.relname, c.relname, c.relkind)), '[]')
            FROM owner o JOIN pg_class t ON t.oid = o.table_oid JOIN pg_namespace n ON n.oid = t.relnamespace
                 JOIN pg_class c ON c.oid = o.oid
            WHERE pg_relation_filenode(o.oid) IS NOT NULL""")
        tables, labels = {}, {}
        for filenode, schema, table, relation, kind in rows or []:
            catalog = schema in ("pg_catalog", "pg_toast", "information_schema")
            tables[int(filenode)] = (table if schema in ("public",) or catalog else "%s.%s" % (schema, table), catalog)
            labels[int(filenode)] = {"i": "index " + relation, "I": "index " + relation, "t": "toast",
                                     "S": "sequence " + relation}.get(kind, "heap")
        result[int(oid)] = (name, tables, labels)
    return result


def _wait_written(lsn, timeout=5.0):
    """Until the WAL up to `lsn` is written (pg_waldump reads the files): the WAL writer does it within
    wal_writer_delay; pg_current_wal_lsn() says how far it got."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = _psql_json("postgres", "SELECT to_json(pg_current_wal_lsn()::text)")
        if now is None or lsn_int(now) >= lsn_int(lsn):
            return
        time.sleep(0.1)


def _waldump(start_lsn, end_lsn, errors):
    """pg_waldump over the window, running: its records on stdout, its complaints into the file `errors`."""
    tool = pg_waldump()
    if not tool:
        raise FileNotFoundError("not found beside psql nor in /usr/lib/postgresql/*/bin (it comes with the server)")
    command = [tool, "-p", os.path.join(PGDATA_DIR, "pg_wal"), "--start", start_lsn, "--end", end_lsn]
    if not os.access(os.path.join(PGDATA_DIR, "pg_wal"), os.R_OK | os.X_OK) and os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--"] + command
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, bufsize=1 << 20)


class _Transaction:
    __slots__ = ("bytes", "records", "fpis", "tables", "kinds", "databases", "relations")

    def __init__(self):
        self.bytes = self.records = self.fpis = 0
        self.tables = set()      # (database oid, table, is catalog)
        self.kinds = set()       # (database oid, table, insert|update|delete|lock)
        self.databases = set()   # every database oid a block reference named (incl. other databases)
        self.relations = {}      # (table, relation, record kind) → [bytes, records]

    def absorb(self, other):
        self.bytes += other.bytes
        self.records += other.records
        self.fpis += other.fpis
        self.tables |= other.tables
        self.kinds |= other.kinds
        self.databases |= other.databases
        _add_relations(self.relations, other.relations)


def _add_relations(into, more):
    """Adds {(table, relation, kind): [bytes, records]} `more` into `into`."""
    for key, (size, count) in more.items():
        entry = into.setdefault(key, [0, 0])
        entry[0] += size
        entry[1] += count


def _relation_key(rmgr, op, blocks, rels):
    """(table, relation, record kind) a record counts for: the relation of its first block reference
    (a fork other than main is named after it, e.g. "heap vm"), ("—", "—", kind) without any."""
    kind = "%s %s" % (rmgr, op)
    if not blocks:
        return ("—", "—", kind)
    _, db, filenode, rest = blocks[0]
    db, filenode = int(db), int(filenode)
    if db in rels:
        table = rels[db][1].get(filenode, ("?%d" % filenode, False))[0]
        relation = rels[db][2].get(filenode, "?")
    else:
        table, relation = "(shared catalogs)" if db == 0 else "(database %d)" % db, "?%d" % filenode
    fork = re.search(r"\bfork (\w+)", rest)
    return (table, relation + " " + fork.group(1) if fork else relation, kind)


def _classify(tx, rels, run):
    """(category, group, tables) of a committed transaction; None when it is not the run's."""
    run_dbs = {db for db in tx.databases if db in rels}
    if not run_dbs:
        if tx.databases - {0}:
            return None  # another database's transaction
        return ("unattributed (no table written, e.g. NOTIFY only)", "other", [])
    db = sorted(run_dbs)[0]
    service = short_name(rels[db][0], run)
    tables = sorted({t for d, t, catalog in tx.tables if d == db and not catalog})
    kinds = {(t, k) for d, t, k in tx.kinds if d == db}
    if not tables:
        return ("maintenance (%s): catalogs only (ANALYZE, DDL)" % service, "other", [])
    if service == "bus":
        done = {k for _, k in kinds if k != "lock"}
        label = {frozenset(["insert"]): "store", frozenset(["update"]): "claim",
                 frozenset(["update", "delete"]): "claim + delete", frozenset(["delete"]): "delete",
                 frozenset(): "lock only"}.get(frozenset(done), " + ".join(sorted(done)))
        return ("bus: " + label, "bus", tables)
    if tables == ["outbox"] and ("outbox", "insert") not in kinds:
        return ("outbox relay (%s)" % service, "outbox relay", tables)
    if service == "notification" and ("notifications", "insert") in kinds:
        # A claim of a new e-mail (with the order's contact): it commits asynchronously (the hand-off,
        # an update, is the commit that waits; see NotificationRules).
        return ("business (notification): claim", "business", tables)
    return ("business (%s)" % service, "business", tables)


def wal_accounting(start_lsn, end_lsn, run):
    """The WAL between the two positions, read with pg_waldump and attributed to the run's committed
    write transactions by category; None when pg_waldump is missing or cannot read the window.
    "by_relation": the same WAL by category, table, relation and record kind (see _relation_key), a list
    of {category, table, relation, kind, bytes, records} sorted by category, then bytes descending."""
    if lsn_int(end_lsn) <= lsn_int(start_lsn):
        return None
    rels = relations(run)
    _wait_written(end_lsn)
    errors = tempfile.TemporaryFile(mode="w+")
    try:
        process = _waldump(start_lsn, end_lsn, errors)
    except OSError as error:
        errors.close()
        return {"error": "pg_waldump: %s" % error}
    transactions = {}
    committed, aborted = [], []
    parent = {}  # subtransaction → top-level transaction
    other = {}   # "rmgr KIND" → bytes of records outside the run (other databases, checkpoints)
    untracked = {}  # "rmgr KIND" → bytes of the run databases' records outside any transaction
    total = {"bytes": 0, "records": 0, "fpis": 0}
    free = {"bytes": 0, "records": 0, "fpis": 0}
    free_relations = {}  # the same by (table, relation, record kind), like _Transaction.relations
    for line in process.stdout:
        m = _RECORD.match(line)
        if not m:
            continue
        rmgr, length, xid, desc = m.group(1), int(m.group(3)), int(m.group(4)), m.group(6)
        op = desc.split(" ", 1)[0].split("+", 1)[0].rstrip(",;")
        blocks = _BLOCK.findall(desc)
        fpis = sum(1 for b in blocks if "FPW" in b[3])
        total["bytes"] += length
        total["records"] += 1
        total["fpis"] += fpis
        if xid == 0:
            key = "%s %s" % (rmgr, op)
            if any(int(b[1]) in rels for b in blocks):
                untracked[key] = untracked.get(key, 0) + length
                free["bytes"] += length
                free["records"] += 1
                free["fpis"] += fpis
                _add_relations(free_relations, {_relation_key(rmgr, op, blocks, rels): (length, 1)})
            else:
                other[key] = other.get(key, 0) + length
            continue
        tx = transactions.get(xid)
        if tx is None:
            tx = transactions[xid] = _Transaction()
        tx.bytes += length
        tx.records += 1
        tx.fpis += fpis
        _add_relations(tx.relations, {_relation_key(rmgr, op, blocks, rels): (length, 1)})
        heap_kind = _HEAP_KIND.get(op) if rmgr in ("Heap", "Heap2") else None
        for _, db, filenode, _ in blocks:
            db, filenode = int(db), int(filenode)
            tx.databases.add(db)
            if db in rels:
                table, catalog = rels[db][1].get(filenode, ("?%d" % filenode, filenode < 16384))
                tx.tables.add((db, table, catalog))
                if heap_kind:
                    tx.kinds.add((db, table, heap_kind))
        if rmgr == "Transaction":
            if op.startswith("COMMIT"):
                committed.append(xid)
                sub = re.search(r"subxacts:((?: \d+)+)", desc)
                for s in (sub.group(1).split() if sub else []):
                    parent[int(s)] = xid
            elif op.startswith("ABORT"):
                aborted.append(xid)
                sub = re.search(r"subxacts:((?: \d+)+)", desc)
                for s in (sub.group(1).split() if sub else []):
                    parent[int(s)] = xid
    process.wait()
    errors.seek(0)
    stderr = errors.read()
    errors.close()
    if total["records"] == 0:
        return {"error": "pg_waldump read nothing: %s" % stderr.strip()[-300:]}
    for sub, top in parent.items():
        if sub in transactions and top in transactions:
            transactions[top].absorb(transactions.pop(sub))
    categories = {}
    by_relation = {}  # category → {(table, relation, record kind): [bytes, records]}

    def bucket(label, group):
        if label not in categories:
            categories[label] = {"group": group, "commits": 0, "aborts": 0, "wal_bytes": 0, "records": 0, "fpis": 0, "tables": []}
        return categories[label]

    finished = set()
    for outcome, xids in (("commits", committed), ("aborts", aborted)):
        for xid in xids:
            tx = transactions.get(xid)
            finished.add(xid)
            if tx is None:
                continue
            verdict = _classify(tx, rels, run)
            if verdict is None:
                key = "transactions of other databases"
                other[key] = other.get(key, 0) + tx.bytes
                continue
            label, group, tables = verdict
            if outcome == "aborts":
                label, group = "rolled back: " + label, "other"
            b = bucket(label, group)
            b[outcome] += 1
            b["wal_bytes"] += tx.bytes
            b["records"] += tx.records
            b["fpis"] += tx.fpis
            b["tables"] = sorted(set(b["tables"]) | set(tables))
            _add_relations(by_relation.setdefault(label, {}), tx.relations)
    for xid, tx in transactions.items():
        if xid in finished or xid in parent:
            continue
        if any(db in rels for db in tx.databases):
            b = bucket("unfinished at the window's edges", "other")
            b["wal_bytes"] += tx.bytes
            b["records"] += tx.records
            b["fpis"] += tx.fpis
            _add_relations(by_relation.setdefault("unfinished at the window's edges", {}), tx.relations)
        else:
            key = "transactions of other databases"
            other[key] = other.get(key, 0) + tx.bytes
    if free["records"]:
        b = bucket("no transaction (pruning, vacuum, hint bits)", "other")
        b.update(wal_bytes=free["bytes"], records=free["records"], fpis=free["fpis"], kinds=untracked)
        by_relation["no transaction (pruning, vacuum, hint bits)"] = free_relations
    for label, b in categories.items():
        b["durable"] = bool(b["commits"]) and label not in ASYNCHRONOUS and b["group"] not in ASYNCHRONOUS
    rows = [{"category": label, "table": table, "relation": relation, "kind": kind, "bytes": size, "records": count}
            for label, entries in by_relation.items() for (table, relation, kind), (size, count) in entries.items()]
    rows.sort(key=lambda r: (r["category"], -r["bytes"], r["table"], r["relation"], r["kind"]))
    return {"waldump": total, "categories": categories, "outside_run_wal_bytes": other,
            "waldump_stderr": stderr.strip()[-300:] or None, "by_relation": rows}


# --- one step -------------------------------------------------------------------------------------

def _sum_databases(snap):
    keys = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted")
    return {k: sum(d[k] for d in snap["databases"].values()) for k in keys}


def cost(before, after, run, completed, made, top=20):
    """What the window between two snapshots cost Postgres: totals, per completed order and per order
    made. None when a snapshot is missing."""
    if not before or not after:
        return None
    wal_lsn = lsn_int(after["lsn"]) - lsn_int(before["lsn"])
    wal = {k: after["wal"][k] - before["wal"][k] for k in after["wal"]} if before.get("wal") and after.get("wal") else None
    db_before, db_after = _sum_databases(before), _sum_databases(after)
    databases = {k: db_after[k] - db_before[k] for k in db_after}
    statements = statement_delta(before.get("statements"), after.get("statements"), run)
    try:
        accounting = wal_accounting(before["lsn"], after["lsn"], run)
    except Exception as error:  # a bench run goes on without the WAL figures
        accounting = {"error": "%s: %s" % (type(error).__name__, error)}
    categories = (accounting or {}).get("categories")

    totals = {
        "wal_bytes": None, "wal_records": None, "fpis": None,  # the run's, from the WAL read back
        "wal_bytes_cluster": wal_lsn,  # everything the cluster wrote in the window (LSN difference)
        "wal_bytes_pg_stat_wal": wal and wal["wal_bytes"],
        "wal_records_pg_stat_wal": wal and wal["wal_records"],
        "fpis_pg_stat_wal": wal and wal["wal_fpi"],
        "fsyncs": wal and wal["wal_sync"],
        "wal_writes": wal and wal["wal_write"],
        "xact_commit": databases["xact_commit"], "xact_rollback": databases["xact_rollback"],
        "tup_inserted": databases["tup_inserted"], "tup_updated": databases["tup_updated"], "tup_deleted": databases["tup_deleted"],
        "statements": None, "nested_statements": None, "bench_polling_statements": None,
        "wal_bytes_waldump": None, "wal_records_waldump": None, "fpis_waldump": None, "wal_bytes_outside_run": None,
        "commits": None, "durable_commits": None, "commits_by_group": None, "commits_by_category": None,
        "wal_bytes_by_group": None, "wal_bytes_by_category": None, "outside_run_wal_bytes": None,
        "wal_by_relation": None,  # [{category, table, relation, kind, bytes, records}], as wal_accounting's by_relation
    }
    if statements is not None:
        ours = [s for s in statements if not s["query"].lstrip().startswith(BENCH_MARK)]
        totals["statements"] = sum(s["calls"] for s in ours if s["toplevel"])
        totals["nested_statements"] = sum(s["calls"] for s in ours if not s["toplevel"])
        totals["bench_polling_statements"] = sum(s["calls"] for s in statements if s["query"].lstrip().startswith(BENCH_MARK))
    if categories is not None:
        dump = accounting["waldump"]
        totals["wal_bytes_waldump"], totals["wal_records_waldump"], totals["fpis_waldump"] = dump["bytes"], dump["records"], dump["fpis"]
        totals["wal_bytes"] = sum(v["wal_bytes"] for v in categories.values())
        totals["wal_records"] = sum(v["records"] for v in categories.values())
        totals["fpis"] = sum(v["fpis"] for v in categories.values())
        totals["wal_bytes_outside_run"] = dump["bytes"] - totals["wal_bytes"]
        totals["commits_by_category"] = {k: v["commits"] for k, v in categories.items() if v["commits"]}
        totals["wal_bytes_by_category"] = {k: v["wal_bytes"] for k, v in categories.items()}
        totals["commits_by_group"] = {g: sum(v["commits"] for v in categories.values() if v["group"] == g) for g in GROUPS}
        totals["wal_bytes_by_group"] = {g: sum(v["wal_bytes"] for v in categories.values() if v["group"] == g) for g in GROUPS}
        totals["outside_run_wal_bytes"] = dict(accounting["outside_run_wal_bytes"])
        totals["wal_by_relation"] = [dict(r) for r in accounting["by_relation"]]
        totals["commits"] = sum(v["commits"] for v in categories.values())
        totals["durable_commits"] = sum(v["commits"] for v in categories.values() if v["durable"])

    def per(count):
        if not count:
            return None
        result = {}
        for key, value in totals.items():
            if value is None:
                result[key] = None
            elif isinstance(value, dict):
                result[key] = {k: v / count for k, v in value.items()}
            elif isinstance(value, list):  # wal_by_relation: its bytes and records divided
                result[key] = [dict(r, bytes=r["bytes"] / count, records=r["records"] / count) for r in value]
            else:
                result[key] = value / count
        return result

    top_statements = None
    if statements is not None:
        top_statements = [{"db": s["db"], "query": shorten(s["query"]), "toplevel": s["toplevel"], "calls": s["calls"],
                           "calls_per_completed_order": s["calls"] / completed if completed else None,
                           "rows_per_call": s["rows"] / s["calls"], "ms_per_call": s["ms"] / s["calls"]}
                          for s in statements if not s["query"].lstrip().startswith(BENCH_MARK)][:top]
    return {
        "window_seconds": round(after["time"] - before["time"], 2), "start_lsn": before["lsn"], "end_lsn": after["lsn"],
        "completed_orders": completed, "orders_made": made,
        "asynchronous_categories": sorted(ASYNCHRONOUS),
        "totals": totals,
        "per_completed_order": per(completed),
        "per_order_made": per(made),
        "categories": categories,
        "wal_error": (accounting or {}).get("error") if accounting else "no WAL written",
        "top_statements": top_statements,
    }
