"""A local fake of GitLab's REST API (v4), over real HTTP, for python-gitlab to talk to.

Covers what usagebot uses: projects by path, issues (create, list with search/state, get,
edit), issue notes, and `GET /user`. Tests can make the next N requests answer an HTTP error
(401, 403, 500, 503…) or hang for a while (a timeout), and read every issue created.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from fakes.http import LocalServer

TOKEN = "glpat-test-token"


@dataclass
class Project:
    id: int
    path_with_namespace: str
    issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Fault:
    status: int
    times: int
    delay: float = 0.0
    only: str | None = None  # "POST", "GET"… or None for any request


class FakeGitLab(LocalServer):
    def __init__(self, projects: tuple[str, ...] = ("gitlab-org/product-analytics", "gitlab-data/analytics")) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.projects: dict[str, Project] = {}
        self._ids = itertools.count(1000)
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        for path in projects:
            self.add_project(path)

    @property
    def url(self) -> str:
        return self.base_url

    # ----------------------------------------------------------------- setup and reading by tests
    def add_project(self, path: str) -> Project:
        project = Project(id=len(self.projects) + 1, path_with_namespace=path)
        self.projects[path] = project
        return project

    def fail(self, status: int = 503, times: int = 1, *, delay: float = 0.0, only: str | None = None) -> None:
        """Make the next `times` requests (of method `only`, if given) answer `status` after `delay` s."""
        with self._lock:
            self._faults.append(Fault(status, times, delay, only))

    def hang(self, seconds: float, times: int = 1, only: str | None = None) -> None:
        """Make the next requests hang (a client timeout), then answer 504."""
        self.fail(504, times, delay=seconds, only=only)

    def issues(self, project: str) -> list[dict[str, Any]]:
        return list(self.projects[project].issues)

    def created(self) -> list[dict[str, Any]]:
        return [i for p in self.projects.values() for i in p.issues]

    # ----------------------------------------------------------------- HTTP plumbing
    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        url = urlparse(req.path)
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
        ctype = req.headers.get("Content-Type") or ""
        if raw and "json" in ctype:
            params.update(json.loads(raw))
        elif raw:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
        with self._lock:
            self.requests.append((method, url.path, params))
            fault = self._next_fault(method)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            self._reply(req, fault.status, {"message": f"{fault.status} injected by FakeGitLab"})
            return
        if req.headers.get("PRIVATE-TOKEN") != TOKEN and not (req.headers.get("Authorization") or "").endswith(TOKEN):
            self._reply(req, 401, {"message": "401 Unauthorized"})
            return
        status, body, headers = self._route(method, url.path, params)
        self._reply(req, status, body, headers)

    def _next_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.only is None or fault.only == method:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)

    def _project(self, ref: str) -> Project | None:
        ref = unquote(ref)
        if ref.isdigit():
            return next((p for p in self.projects.values() if p.id == int(ref)), None)
        return self.projects.get(ref)

    def _project_json(self, p: Project) -> dict[str, Any]:
        return {
            "id": p.id,
            "path_with_namespace": p.path_with_namespace,
            "name": p.path_with_namespace.rsplit("/", 1)[-1],
            "web_url": f"{self.url}/{p.path_with_namespace}",
        }

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        parts = path.removeprefix("/api/v4/").split("/")
        if parts == ["user"]:
            return 200, {"id": 1, "username": "usagebot", "name": "usagebot"}, {}
        if len(parts) < 2 or parts[0] != "projects":
            return 404, {"message": "404 Not Found"}, {}
        with self._lock:
            project = self._project(parts[1])
            if project is None:
                return 404, {"message": "404 Project Not Found"}, {}
            rest = parts[2:]
            if not rest and method == "GET":
                return 200, self._project_json(project), {}
            if rest == ["issues"] and method == "POST":
                return 201, self._create_issue(project, params), {}
            if rest == ["issues"] and method == "GET":
                items = self._search(project, params)
                return 200, items, {"X-Total": str(len(items)), "X-Total-Pages": "1", "X-Page": "1"}
            if len(rest) >= 2 and rest[0] == "issues":
                issue = next((i for i in project.issues if str(i["iid"]) == rest[1]), None)
                if issue is None:
                    return 404, {"message": "404 Issue Not Found"}, {}
                if len(rest) == 2 and method == "GET":
                    return 200, issue, {}
                if len(rest) == 2 and method == "PUT":
                    self._edit_issue(issue, params)
                    return 200, issue, {}
                if rest[2:] == ["notes"] and method == "POST":
                    note = {"id": next(self._ids), "body": params.get("body", ""), "author": {"username": "usagebot"}}
                    issue.setdefault("notes", []).append(note)
                    return 201, note, {}
                if rest[2:] == ["notes"] and method == "GET":
                    return 200, issue.get("notes", []), {"X-Total-Pages": "1"}
        return 404, {"message": "404 Not Found"}, {}

    def _create_issue(self, project: Project, params: dict[str, Any]) -> dict[str, Any]:
        iid = len(project.issues) + 1
        labels = params.get("labels") or []
        if isinstance(labels, str):
            labels = [x.strip() for x in labels.split(",") if x.strip()]
        confidential = params.get("confidential")
        issue = {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project.id,
            "title": params.get("title", ""),
            "description": params.get("description", ""),
            "labels": labels,
            "confidential": confidential in (True, "true", "True", "1", 1),
            "state": "opened",
            "web_url": f"{self.url}/{project.path_with_namespace}/-/issues/{iid}",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "notes": [],
        }
        project.issues.append(issue)
        return issue

    @staticmethod
    def _edit_issue(issue: dict[str, Any], params: dict[str, Any]) -> None:
        for key in ("title", "description"):
            if key in params:
                issue[key] = params[key]
        if "state_event" in params:
            issue["state"] = "closed" if params["state_event"] == "close" else "opened"
        if "add_labels" in params:
            issue["labels"] = sorted({*issue["labels"], *str(params["add_labels"]).split(",")})

    @staticmethod
    def _search(project: Project, params: dict[str, Any]) -> list[dict[str, Any]]:
        state = params.get("state", "all")
        term = str(params.get("search") or "").lower()
        labels = [x for x in str(params.get("labels") or "").split(",") if x]
        out = []
        for issue in reversed(project.issues):
            if state in ("opened", "closed") and issue["state"] != state:
                continue
            text = (issue["title"] + "\n" + issue["description"]).lower()
            if term and term not in text:
                continue
            if labels and not set(labels) <= set(issue["labels"]):
                continue
            out.append({k: v for k, v in issue.items() if k != "notes"})
        return out
