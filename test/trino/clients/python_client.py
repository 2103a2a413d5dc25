"""A notebook's use of the Python `trino` client (DB-API, and SQLAlchemy), for the real-Trino tier.

python python_client.py '<json options>' prints one JSON line. Options: mode (query | session |
cancel | sqlalchemy), host, port, http_scheme, verify (CA file), headers (extra HTTP headers),
resolve ({hostname: ip}: names resolved inside this process, as DNS would), sql, cancel_after_s.
"""
import hashlib
import json
import socket
import sys
import threading
import time

options = json.loads(sys.argv[1])

resolve = options.get("resolve") or {}
if resolve:
    _getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return _getaddrinfo(resolve.get(host, host), *args, **kwargs)

    socket.getaddrinfo = getaddrinfo

import trino  # noqa: E402  (after the resolver override)
from trino.exceptions import TrinoQueryError, TrinoUserError  # noqa: E402


def connect():
    return trino.dbapi.connect(
        host=options["host"],
        port=options["port"],
        user="analyst",
        http_scheme=options.get("http_scheme", "http"),
        verify=options.get("verify", True),
        http_headers=options.get("headers") or None,
        catalog=options.get("catalog"),
        schema=options.get("schema"),
        encoding=options.get("encoding"),
    )


def read_all(cursor):
    digest = hashlib.sha256()
    count = 0
    first = ""
    while True:
        row = cursor.fetchone()
        if row is None:
            break
        line = "\t".join(str(value) for value in row)
        if count == 0:
            first = line
        digest.update((line + "\n").encode("utf-8"))
        count += 1
    columns = [f"{column[0]}:{column[1]}" for column in cursor.description or []]
    return {"rows": count, "checksum": digest.hexdigest(), "columns": columns, "first": first}


def main():
    mode = options["mode"]
    try:
        if mode == "query":
            cursor = connect().cursor()
            cursor.execute(options["sql"])
            result = read_all(cursor)
            result["nextUris"] = sorted({uri.split("/v1/")[0] for uri in seen_uris})
            result["spooledSegments"] = sum(1 for uri in seen_uris if "/v1/spooled/download/" in uri)
            return {"ok": True, **result, "queryId": cursor.query_id}
        if mode == "session":
            connection = connect()
            cursor = connection.cursor()
            cursor.execute("USE tpch.tiny")
            cursor.fetchall()
            cursor.execute("SELECT count(*) FROM nation")
            nations = cursor.fetchall()[0][0]
            cursor.execute("SET SESSION query_max_run_time = '17m'")
            cursor.fetchall()
            cursor.execute("SHOW SESSION LIKE 'query_max_run_time'")
            value = cursor.fetchall()[0][1]
            return {"ok": True, "nations": nations, "session": value, "schema": connection.schema}
        if mode == "cancel":
            cursor = connect().cursor()

            def cancel():
                # What a notebook's interrupt does, from another thread: execute() itself polls until the
                # first rows, which a count over a large table has only at its end.
                time.sleep(options.get("cancel_after_s", 1.5))
                while cursor.query_id is None:
                    time.sleep(0.1)
                cursor.cancel()

            thread = threading.Thread(target=cancel, daemon=True)
            thread.start()
            message = ""
            try:
                cursor.execute(options["sql"])
                cursor.fetchall()
            except Exception as error:  # noqa: BLE001  (what the notebook shows)
                message = f"{type(error).__name__}: {error}"
            thread.join()
            return {"ok": True, "queryId": cursor.query_id, "message": message}
        if mode == "sqlalchemy":
            from sqlalchemy import create_engine, text

            scheme = options.get("http_scheme", "http")
            engine = create_engine(
                f"trino://analyst@{options['host']}:{options['port']}/tpch/tiny",
                connect_args={"http_scheme": scheme, "http_headers": options.get("headers") or None, "verify": options.get("verify", True)},
            )
            with engine.connect() as connection:
                rows = connection.execute(text("SELECT name FROM nation WHERE regionkey = :region ORDER BY name"), {"region": 1}).fetchall()
            return {"ok": True, "names": [row[0] for row in rows]}
        raise ValueError(f"unknown mode {mode}")
    except (TrinoQueryError, TrinoUserError) as error:
        return {"ok": False, "message": f"{type(error).__name__}: {error.message}", "errorName": error.error_name, "queryId": error.query_id}
    except Exception as error:  # noqa: BLE001
        return {"ok": False, "message": f"{type(error).__name__}: {error}"}


# Every URI the client requests (nextUri included), to check where it goes (TLS ingress).
seen_uris = []
import requests  # noqa: E402

_request = requests.Session.request


def recording_request(self, method, url, *args, **kwargs):
    seen_uris.append(url)
    return _request(self, method, url, *args, **kwargs)


requests.Session.request = recording_request

print(json.dumps(main()))
