"""The peers' side of flowseg's benchmark: DuckDB and ClickHouse (chDB).

Loads the generator's CSV files (contacts.csv, events.csv) into each engine's
own storage -- a DuckDB table sorted by (name, contact_id, time), in memory
or, with --duckdb-file, in a database file; a chDB MergeTree table ordered
by (name, contact_id, time) -- then runs each
suite segment's hand-written SQL once to warm up, then measures them in rounds
(one run of each segment per round, at least REPS runs each),
fetching the member ids as a columnar array (numpy / Arrow), and writes
RESULTS/<engine>.json (load time, per-segment times in ms, member counts)
and RESULTS/<engine>/<segment>.ids (sorted contact ids, one per line).

Both engines use their default thread count (the machine's cores).
Usage: run.py --data DIR --suite suite.json --results DIR [--reps N]
       [--engines duckdb,chdb]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

DUCK_TYPES = {
    "u32": "UINTEGER",
    "u64": "UBIGINT",
    "name": "VARCHAR",
    "ms": "BIGINT",
    "str": "VARCHAR",
    "f64": "DOUBLE",
    "bool": "BOOLEAN",
}
CH_TYPES = {
    "u32": "UInt32",
    "u64": "UInt64",
    "name": "LowCardinality(String)",
    "ms": "Nullable(Int64)",
    "str": "Nullable(String)",
    "f64": "Nullable(Float64)",
    "bool": "Nullable(Bool)",
}
# Columns that are never empty are not Nullable in ClickHouse.
CH_NOT_NULL = {("events", "time")}


def write_ids(path, ids):
    ids = sorted(int(i) for i in ids)
    with open(path, "w") as f:
        f.write("".join(f"{i}\n" for i in ids))
    return len(ids)


# At least `reps` measured runs, and more while they add up to less than
# `min_ms`, up to MAX_RUNS; every segment warmed up, then measured in rounds
# of one run of each segment still due: the rules of flowseg's own runs
# (bench/src/runs.rs), so that a burst of host noise spreads over the
# segments it meets instead of deciding one segment's median.
MAX_RUNS = 1000


def due(times, reps, min_ms):
    return len(times) < reps or (sum(times) < min_ms and len(times) < MAX_RUNS)


def measure_in_rounds(engine_name, segments, run, reps, min_ms):
    """run(seg) -> ids. Returns {name: (times, ids)} or {name: exception} for
    a segment whose query failed (it is left out of the later rounds)."""
    out = {}
    for seg in segments:  # warm-up
        try:
            out[seg["name"]] = ([], run(seg))
        except Exception as e:  # a failing query is reported, not fatal
            print(f"{engine_name}: {seg['name']} failed: {e}", file=sys.stderr)
            out[seg["name"]] = e
    while True:
        todo = [s for s in segments if isinstance(out[s["name"]], tuple) and due(out[s["name"]][0], reps, min_ms)]
        if not todo:
            return out
        for seg in todo:
            times, _ = out[seg["name"]]
            t = time.perf_counter()
            try:
                ids = run(seg)
            except Exception as e:
                print(f"{engine_name}: {seg['name']} failed: {e}", file=sys.stderr)
                out[seg["name"]] = e
                continue
            times.append((time.perf_counter() - t) * 1e3)
            out[seg["name"]] = (times, ids)


class Duck:
    name = "duckdb"

    def __init__(self, data, tables, db_file=None):
        import duckdb

        self.version = duckdb.__version__
        if db_file:
            # Large scales: a database file (compressed, buffer-managed)
            # instead of an in-memory database that would not fit.
            if os.path.exists(db_file):
                os.remove(db_file)
            self.storage = "a database file, 12 GB memory limit"
            self.con = duckdb.connect(db_file)
            # The machine is shared: spill rather than take 80% of it.
            self.con.execute("SET memory_limit = '12GB'")
        else:
            self.storage = "an in-memory database"
            self.con = duckdb.connect()
        for table, order in (("contacts", "contact_id"), ("events", "name, contact_id, time")):
            cols = ", ".join(f"'{c}': '{DUCK_TYPES[t]}'" for c, t in tables[table])
            path = os.path.join(data, f"{table}.csv")
            self.con.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header = true, "
                f"columns = {{{cols}}}) ORDER BY {order}"
            )

    def run(self, sql):
        return self.con.execute(sql).fetchnumpy()["contact_id"]


class ClickHouse:
    name = "chdb"

    storage = "a MergeTree table on disk"

    def __init__(self, data, tables, db_file=None):
        import chdb
        from chdb import session

        self.version = chdb.__version__
        self.dir = tempfile.mkdtemp(prefix="chdb-bench-")
        self.sess = session.Session(self.dir)
        self.sess.query("CREATE DATABASE IF NOT EXISTS bench")
        self.sess.query("USE bench")
        for table, order in (("contacts", "contact_id"), ("events", "name, contact_id, time")):
            structure = ", ".join(
                f"{c} {'Int64' if (table, c) in CH_NOT_NULL else CH_TYPES[t]}"
                for c, t in tables[table]
            )
            path = os.path.join(data, f"{table}.csv")
            self.sess.query(f"CREATE TABLE {table} ({structure}) ENGINE = MergeTree ORDER BY ({order})")
            self.sess.query(
                f"INSERT INTO {table} SELECT * FROM file('{path}', 'CSVWithNames', '{structure}')"
            )
            self.sess.query(f"OPTIMIZE TABLE {table} FINAL")

    def run(self, sql):
        table = self.sess.query(sql, "ArrowTable")
        return table.column("contact_id").to_numpy()

    def close(self):
        self.sess.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--suite", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--min-ms", type=float, default=500.0)
    ap.add_argument("--engines", default="duckdb,chdb")
    ap.add_argument("--duckdb-file", help="keep DuckDB's tables in this database file")
    args = ap.parse_args()
    suite = json.load(open(args.suite))
    data = os.path.abspath(args.data)
    os.makedirs(args.results, exist_ok=True)
    for engine_name in args.engines.split(","):
        cls = {"duckdb": Duck, "chdb": ClickHouse}[engine_name]
        t = time.perf_counter()
        engine = cls(data, suite["tables"], args.duckdb_file if engine_name == "duckdb" else None)
        load_s = time.perf_counter() - t
        print(f"{engine_name} {engine.version}: loaded the CSV files in {load_s:.2f} s", file=sys.stderr)
        ids_dir = os.path.join(args.results, engine_name)
        os.makedirs(ids_dir, exist_ok=True)
        out = {"version": engine.version, "storage": engine.storage, "load_s": load_s, "segments": {}}
        dialect = "duckdb" if engine_name == "duckdb" else "clickhouse"
        measured = measure_in_rounds(
            engine_name, suite["segments"], lambda seg: engine.run(seg[dialect]), args.reps, args.min_ms
        )
        for seg in suite["segments"]:
            result = measured[seg["name"]]
            if isinstance(result, Exception):
                out["segments"][seg["name"]] = {"error": str(result)}
                continue
            times, ids = result
            count = write_ids(os.path.join(ids_dir, f"{seg['name']}.ids"), ids)
            times_sorted = sorted(times)
            print(
                f"{engine_name}: {seg['name']:<20} {count:>8} members, median "
                f"{times_sorted[len(times) // 2]:.3f} ms",
                file=sys.stderr,
            )
            out["segments"][seg["name"]] = {"times_ms": times, "count": count}
        if hasattr(engine, "close"):
            engine.close()
        del engine
        with open(os.path.join(args.results, f"{engine_name}.json"), "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
