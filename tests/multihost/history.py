"""history - check a client history of a Strata cluster, per key

A history is a list of operations as client_worker.py records them: op
(put, get, rm, ls), key, result, unified-id, digest (base64 MD5 of the
bytes put or read), start and end (seconds, one clock). check() returns a
list of violations (empty: clean) of these rules:

1. No read returns bytes that were never written: a successful get's
   digest is the digest of some put of that key (acknowledged or not: a
   put that failed may still have been readable for a moment), and its
   unified-id, if a put was acknowledged with it, has that put's digest.
2. Every acknowledged put is readable afterwards unless a delete was
   acknowledged later: a get that starts after the put ended, with no
   delete of the key sent between the put's start and the get's end,
   must not answer not-found and must return that version or a newer one
   (a get that fails otherwise, unavailable or timeout during a
   partition, is unavailability, not a violation).
3. A deleted version never comes back: after a delete was acknowledged
   (its tombstone's unified-id T), a get starting later returns not-found
   or a version newer than T, and a listing starting later lists no
   version older than T.
"""

import json


def load(paths):
    entries = []
    for path in paths:
        with open(path) as handle:
            entries.extend(json.loads(line) for line in handle if line.strip())
    return entries


def check(entries):
    violations = []
    by_key = {}
    for entry in entries:
        by_key.setdefault(entry["key"], []).append(entry)
    for key, ops in by_key.items():
        ops.sort(key=lambda entry: entry["start"])
        puts = [op for op in ops if op["op"] == "put"]
        written = {op["digest"] for op in puts}
        acked = [op for op in puts if op["result"] == "success"]
        acked_digest = {op["unified-id"]: op["digest"] for op in acked}
        deletes = [op for op in ops if op["op"] == "rm"]
        acked_deletes = [op for op in deletes if op["result"] == "success"]
        for read in (op for op in ops if op["op"] == "get"):
            got_uid = read.get("unified-id")
            if read["result"] == "success":
                if read["digest"] not in written:
                    violations.append("%s: get at %.3f returned bytes never written (md5 %s)"
                                      % (key, read["start"], read["digest"]))
                elif got_uid in acked_digest and acked_digest[got_uid] != read["digest"]:
                    violations.append("%s: get at %.3f returned version %s with other bytes "
                                      "than were put" % (key, read["start"], got_uid))
            for put in acked:
                if put["end"] >= read["start"]:
                    continue
                if any(rm["start"] <= read["end"] and rm["end"] >= put["start"] for rm in deletes):
                    continue
                if read["result"] == "not-found":
                    violations.append("%s: acknowledged put %s (ended %.3f) not found by the get "
                                       "at %.3f" % (key, put["unified-id"], put["end"], read["start"]))
                elif read["result"] == "success" and got_uid is not None \
                        and got_uid < put["unified-id"]:
                    violations.append("%s: get at %.3f returned %s, older than acknowledged "
                                      "put %s" % (key, read["start"], got_uid, put["unified-id"]))
            for rm in acked_deletes:
                if rm["end"] >= read["start"] or read["result"] != "success":
                    continue
                if got_uid is not None and rm["unified-id"] is not None \
                        and got_uid < rm["unified-id"]:
                    violations.append("%s: get at %.3f returned %s, deleted by the delete "
                                      "acknowledged at %.3f" % (key, read["start"], got_uid, rm["end"]))
        for listing in (op for op in ops if op["op"] == "ls" and op["result"] == "success"):
            for rm in acked_deletes:
                if rm["end"] >= listing["start"] or rm["unified-id"] is None:
                    continue
                old = [uid for uid in listing.get("versions") or [] if uid < rm["unified-id"]]
                if old:
                    violations.append("%s: listing at %.3f shows %s, deleted at %.3f"
                                      % (key, listing["start"], old, rm["end"]))
    return violations


def summary(entries):
    """Counts per op and result, e.g. {"put": {"success": 10, ...}}."""
    counts = {}
    for entry in entries:
        per_op = counts.setdefault(entry["op"], {})
        per_op[entry["result"]] = per_op.get(entry["result"], 0) + 1
    return counts
