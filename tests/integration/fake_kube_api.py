#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small Kubernetes API server for the tests of canary's gateway_api and
istio engines (no real API server can run on the test machines).

It implements the documented behaviour that the engines rely on, for two
kinds of objects:

  /apis/gateway.networking.k8s.io/{v1,v1beta1}/namespaces/NS/httproutes/NAME
  /apis/networking.istio.io/{v1,v1beta1,v1alpha3}/namespaces/NS/virtualservices/NAME

- bearer tokens: a request without `Authorization: Bearer TOKEN` (the
  token of --token-file) is 401 Unauthorized, as a Status object;
- GET answers the object; a missing one is 404 NotFound;
- PATCH by content type:
  * application/json-patch+json: RFC 6902 (add, remove, replace, move,
    copy, test), all or nothing. A patch that does not decode is 400
    BadRequest; one that does not apply (a failed `test`, a missing path)
    is 422 with reason Invalid, the message "the server rejected our
    request due to an error in our request" and the library's words in
    details.causes, as kube-apiserver answers (handlers/patch.go:
    applyJSPatch, NewGenericServerResponse(422, ...));
  * application/merge-patch+json: RFC 7386;
  * application/strategic-merge-patch+json and any other type: 415
    UnsupportedMediaType (custom resources have no strategic merge);
- metadata.resourceVersion changes on each write (one counter for the
  whole server, as etcd's revision); a patch that sets it to another value
  than the current one is 409 Conflict ("the object has been modified");
- the CRDs' schema checks that matter here: an HTTPRoute backendRef's
  weight is an integer in [0, 1000000] and a rule has at most 16
  backendRefs; a VirtualService route's weight is an integer in [0, 100]
  (422 Invalid with the field path otherwise);
- other methods: 405.

Switches for the tests (no token needed, under /fake/):
  POST /fake/conflicts {"count": N, "status": 422|409}
       the next N PATCHes race a concurrent write: the object is written
       (an annotation, so its resourceVersion changes) just before the
       PATCH is applied; with status 409 the PATCH is then answered 409
       Conflict outright (what an update with a stale resourceVersion
       gets), with 422 (the default) it goes on and its `test` fails;
  POST /fake/forbid {"verbs": ["patch"]}  those verbs answer 403 Forbidden
       in RBAC's words;
  GET  /fake/log   every request so far: method, path, content type, status,
                   and after a successful PATCH the object's resourceVersion
                   and weights ([[rule 0's weights], ...]);
  PUT  /fake/objects  {object}  create or replace an object (a write).

Objects to start with: --objects FILE (a JSON list). Prints
"listening on HOST:PORT" once it accepts connections. With --tls-cert and
--tls-key it serves HTTPS (Python's ssl module).
"""
import argparse
import copy
import json
import re
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH_RE = re.compile(
    r"^/apis/(?P<group>gateway\.networking\.k8s\.io|networking\.istio\.io)/"
    r"(?P<version>[a-z0-9]+)/namespaces/(?P<ns>[a-z0-9.-]+)/"
    r"(?P<plural>httproutes|virtualservices)/(?P<name>[a-z0-9.-]+)$"
)
KINDS = {
    ("gateway.networking.k8s.io", "httproutes"): ("HTTPRoute", {"v1", "v1beta1"}),
    ("networking.istio.io", "virtualservices"): (
        "VirtualService",
        {"v1", "v1beta1", "v1alpha3"},
    ),
}
PLURAL_OF = {"HTTPRoute": "httproutes", "VirtualService": "virtualservices"}


class PatchError(Exception):
    pass


def status(code, reason, message, details=None):
    s = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        s["details"] = details
    return s


# RFC 6901 JSON Pointer ---------------------------------------------------


def pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError("invalid JSON pointer %r" % path)
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def index_of(container, token, for_add=False):
    if token == "-" and for_add:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError("invalid array index %r" % token)
    i = int(token)
    limit = len(container) if for_add else len(container) - 1
    if i > limit:
        raise PatchError("array index %d out of bounds" % i)
    return i


def parent_of(doc, tokens, path):
    cur = doc
    for t in tokens[:-1]:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError("doc is missing path: %s" % path)
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[index_of(cur, t)]
        else:
            raise PatchError("doc is missing path: %s" % path)
    return cur


def get_at(doc, path):
    tokens = pointer(path)
    if not tokens:
        return doc
    parent = parent_of(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("doc is missing path: %s" % path)
        return parent[last]
    if isinstance(parent, list):
        return parent[index_of(parent, last)]
    raise PatchError("doc is missing path: %s" % path)


def json_equal(a, b):
    # JSON equality: true is not 1, 1 is 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return a == b


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ValueError("a JSON Patch is an array of operations")
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError("an operation needs op and path")
        if op["op"] not in ("add", "remove", "replace", "move", "copy", "test"):
            raise ValueError("unexpected operation %r" % op["op"])
        if op["op"] in ("add", "replace", "test") and "value" not in op:
            raise ValueError("operation %s needs a value" % op["op"])
        if op["op"] in ("move", "copy") and "from" not in op:
            raise ValueError("operation %s needs from" % op["op"])
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op["op"], op["path"]
        if kind == "test":
            if not json_equal(get_at(doc, path), op["value"]):
                raise PatchError("testing value %s failed: test failed" % path)
            continue
        if kind in ("move", "copy"):
            value = copy.deepcopy(get_at(doc, op["from"]))
            if kind == "move":
                if path.startswith(op["from"] + "/"):
                    raise PatchError("cannot move %s into its child" % op["from"])
                doc = remove_at(doc, op["from"])
            doc = add_at(doc, path, value)
            continue
        if kind == "remove":
            doc = remove_at(doc, path)
        elif kind == "replace":
            get_at(doc, path)  # must exist
            doc = remove_at(doc, path)
            doc = add_at(doc, path, copy.deepcopy(op["value"]))
        else:
            doc = add_at(doc, path, copy.deepcopy(op["value"]))
    return doc


def add_at(doc, path, value):
    tokens = pointer(path)
    if not tokens:
        return value
    parent = parent_of(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(index_of(parent, last, for_add=True), value)
    else:
        raise PatchError("add operation does not apply: doc is missing path: %s" % path)
    return doc


def remove_at(doc, path):
    tokens = pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = parent_of(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError("remove operation does not apply: doc is missing path: %s" % path)
        del parent[last]
    elif isinstance(parent, list):
        del parent[index_of(parent, last)]
    else:
        raise PatchError("doc is missing path: %s" % path)
    return doc


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    target = dict(target)
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


# The CRDs' schema, the parts that matter -----------------------------------


def schema_errors(obj):
    errs = []
    spec = obj.get("spec") or {}
    if obj.get("kind") == "HTTPRoute":
        for i, rule in enumerate(spec.get("rules") or []):
            refs = rule.get("backendRefs") or []
            if len(refs) > 16:
                errs.append("spec.rules[%d].backendRefs: Too many: %d: must have at most 16 items" % (i, len(refs)))
            for j, ref in enumerate(refs):
                w = ref.get("weight", 1)
                field = "spec.rules[%d].backendRefs[%d].weight" % (i, j)
                if isinstance(w, bool) or not isinstance(w, int):
                    errs.append("%s: Invalid value: %r: %s in body must be of type integer" % (field, w, field))
                elif w < 0:
                    errs.append("%s: Invalid value: %d: %s in body should be greater than or equal to 0" % (field, w, field))
                elif w > 1000000:
                    errs.append("%s: Invalid value: %d: %s in body should be less than or equal to 1000000" % (field, w, field))
    else:
        for i, http in enumerate(spec.get("http") or []):
            for j, dest in enumerate(http.get("route") or []):
                if "weight" not in dest:
                    continue
                w = dest["weight"]
                field = "spec.http[%d].route[%d].weight" % (i, j)
                if isinstance(w, bool) or not isinstance(w, int) or w < 0 or w > 100:
                    errs.append("%s: Invalid value: %r: must be an integer in [0, 100]" % (field, w))
    return errs


def weights_of(obj):
    """Each rule's weights: [[w, ...], ...] (None where a backend has none)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "HTTPRoute":
        return [[r.get("weight") for r in rule.get("backendRefs") or []]
                for rule in spec.get("rules") or []]
    return [[d.get("weight") for d in http.get("route") or []]
            for http in spec.get("http") or []]


class State:
    def __init__(self, token):
        self.lock = threading.RLock()
        self.token = token
        self.revision = 1000
        self.objects = {}
        self.log = []
        self.conflicts = 0
        self.conflict_status = 422
        self.forbidden = set()

    def next_rv(self):
        self.revision += 1
        return str(self.revision)

    def key(self, obj):
        group = obj["apiVersion"].split("/")[0]
        md = obj["metadata"]
        return (group, PLURAL_OF[obj["kind"]], md.get("namespace", "default"), md["name"])

    def store(self, obj):
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        md.setdefault("namespace", "default")
        old = self.objects.get(self.key(obj))
        md["resourceVersion"] = self.next_rv()
        md["generation"] = (old["metadata"].get("generation", 1) + 1) if old else 1
        self.objects[self.key(obj)] = obj
        return obj


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"

    def setup(self):
        super().setup()
        # The head and the body go out in two writes: without this, Nagle
        # and the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body):
        data = json.dumps(body).encode()
        st = self.server.state
        entry = {
            "method": self.command,
            "path": self.path,
            "content_type": self.headers.get("Content-Type"),
            "status": code,
        }
        if self.command == "PATCH" and code == 200:
            # What the write left: the weights a test reads back.
            entry["resourceVersion"] = body["metadata"]["resourceVersion"]
            entry["weights"] = weights_of(body)
        with st.lock:
            st.log.append(entry)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorised(self):
        want = "Bearer " + self.server.state.token
        if self.headers.get("Authorization") != want:
            self.answer(401, status(401, "Unauthorized", "Unauthorized"))
            return False
        return True

    def target(self):
        m = PATH_RE.match(self.path.split("?")[0])
        if not m:
            self.answer(404, status(404, "NotFound", "the server could not find the requested resource"))
            return None
        kind, versions = KINDS.get((m["group"], m["plural"]), (None, set()))
        if kind is None or m["version"] not in versions:
            self.answer(404, status(404, "NotFound", "the server could not find the requested resource"))
            return None
        return (m["group"], m["plural"], m["ns"], m["name"]), m

    def not_found(self, key):
        group, plural, _, name = key
        self.answer(
            404,
            status(404, "NotFound", '%s.%s "%s" not found' % (plural, group, name),
                   {"name": name, "group": group, "kind": plural}),
        )

    def forbidden(self, verb, key):
        group, plural, ns, name = key
        self.answer(
            403,
            status(
                403,
                "Forbidden",
                '%s.%s "%s" is forbidden: User "system:serviceaccount:%s:canary" cannot %s '
                'resource "%s" in API group "%s" in the namespace "%s"'
                % (plural, group, name, ns, verb, plural, group, ns),
            ),
        )

    # --- the fake's own switches -----------------------------------------

    def fake(self):
        st = self.server.state
        if self.command == "GET" and self.path == "/fake/log":
            with st.lock:
                log = list(st.log)
            data = json.dumps(log).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        try:
            req = json.loads(self.body() or b"{}")
        except ValueError:
            self.answer(400, status(400, "BadRequest", "not JSON"))
            return
        with st.lock:
            if self.command == "POST" and self.path == "/fake/conflicts":
                st.conflicts = int(req.get("count", 1))
                st.conflict_status = int(req.get("status", 422))
                out = {"conflicts": st.conflicts, "status": st.conflict_status}
            elif self.command == "POST" and self.path == "/fake/forbid":
                st.forbidden = set(req.get("verbs", []))
                out = {"verbs": sorted(st.forbidden)}
            elif self.command == "PUT" and self.path == "/fake/objects":
                out = st.store(req)
            else:
                out = None
        if out is None:
            self.answer(404, status(404, "NotFound", "no such switch"))
        else:
            self.answer(200, out)

    # --- the API ---------------------------------------------------------

    def do_GET(self):
        if self.path.startswith("/fake/"):
            return self.fake()
        if not self.authorised():
            return
        t = self.target()
        if not t:
            return
        key, _ = t
        st = self.server.state
        with st.lock:
            if "get" in st.forbidden:
                return self.forbidden("get", key)
            obj = copy.deepcopy(st.objects.get(key))
        if obj is None:
            return self.not_found(key)
        self.answer(200, obj)

    def do_PUT(self):
        if self.path.startswith("/fake/"):
            return self.fake()
        self.do_DELETE()

    def do_POST(self):
        if self.path.startswith("/fake/"):
            return self.fake()
        self.do_DELETE()

    def do_DELETE(self):
        self.body()
        if not self.authorised():
            return
        self.answer(405, status(405, "MethodNotAllowed", "the fake API server serves GET and PATCH only"))

    def do_PATCH(self):
        raw = self.body()
        if not self.authorised():
            return
        t = self.target()
        if not t:
            return
        key, m = t
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in ("application/json-patch+json", "application/merge-patch+json"):
            # What kube-apiserver says for a strategic merge patch on a
            # custom resource, and for any type it does not know.
            return self.answer(
                415,
                status(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media "
                    "types include: application/json-patch+json, "
                    "application/merge-patch+json, application/apply-patch+yaml",
                ),
            )
        try:
            patch = json.loads(raw)
        except ValueError as e:
            return self.answer(400, status(400, "BadRequest", str(e)))
        st = self.server.state
        with st.lock:
            if "patch" in st.forbidden:
                return self.forbidden("patch", key)
            cur = st.objects.get(key)
            if cur is None:
                return self.not_found(key)
            if st.conflicts > 0:
                # Another writer gets in first.
                st.conflicts -= 1
                racer = copy.deepcopy(cur)
                ann = racer["metadata"].setdefault("annotations", {})
                ann["fake.example/concurrent-writes"] = str(
                    int(ann.get("fake.example/concurrent-writes", "0")) + 1
                )
                cur = st.store(racer)
                if st.conflict_status == 409:
                    return self.conflict(key)
            try:
                if ctype == "application/json-patch+json":
                    new = json_patch(cur, patch)
                else:
                    new = merge_patch(cur, patch)
            except ValueError as e:
                return self.answer(400, status(400, "BadRequest", str(e)))
            except PatchError as e:
                return self.answer(
                    422,
                    status(
                        422,
                        "Invalid",
                        "the server rejected our request due to an error in our request",
                        {"causes": [{"message": str(e)}]},
                    ),
                )
            rv = new.get("metadata", {}).get("resourceVersion")
            if rv != cur["metadata"]["resourceVersion"]:
                return self.conflict(key)
            for f in ("name", "namespace"):
                if new.get("metadata", {}).get(f) != cur["metadata"].get(f):
                    return self.answer(400, status(400, "BadRequest", "metadata.%s cannot be changed" % f))
            errs = schema_errors(new)
            if errs:
                group, plural, _, name = key
                return self.answer(
                    422,
                    status(
                        422,
                        "Invalid",
                        '%s.%s "%s" is invalid: %s' % (new["kind"], group, name, ", ".join(errs)),
                    ),
                )
            out = st.store(new)
        self.answer(200, out)

    def conflict(self, key):
        group, plural, _, name = key
        self.answer(
            409,
            status(
                409,
                "Conflict",
                'Operation cannot be fulfilled on %s.%s "%s": the object has been modified; '
                "please apply your changes to the latest version and try again" % (plural, group, name),
            ),
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--objects", help="a JSON list of objects to start with")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    with open(a.token_file) as f:
        token = f.read().strip()
    state = State(token)
    if a.objects:
        with open(a.objects) as f:
            for obj in json.load(f):
                state.store(obj)
    host, port = a.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.state = state
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on %s:%d" % srv.server_address[:2], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
