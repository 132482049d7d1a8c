"""The UI is served at / by the app: index.html, and every module reachable through its imports
answers 200 with a JavaScript type (a wrong import path would leave a page blank)."""

import re
from collections import deque
from pathlib import PurePosixPath

IMPORT = re.compile(r"""(?:import|from)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")


def test_index_and_every_imported_module_are_served(server):
    with server.client(key=None) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        entry = re.search(r'<script type="module" src="([^"]+)"', index.text)
        assert entry, "index.html has no module script"
        css = re.search(r'<link rel="stylesheet" href="([^"]+)"', index.text)
        assert css and client.get(css.group(1)).status_code == 200

        seen: set[str] = set()
        queue = deque([entry.group(1)])
        while queue:
            path = queue.popleft()
            if path in seen:
                continue
            seen.add(path)
            response = client.get(path)
            assert response.status_code == 200, f"{path}: {response.status_code}"
            assert "javascript" in response.headers["content-type"], path
            base = PurePosixPath(path).parent
            for target in IMPORT.findall(response.text):
                resolved = PurePosixPath(base, target)
                parts: list[str] = []
                for part in resolved.parts:
                    if part == "..":
                        parts.pop()
                    elif part != ".":
                        parts.append(part)
                queue.append("/".join(parts).replace("//", "/"))
    assert {"/js/app.js", "/js/event-types.js", "/js/pages/activity.js"} <= seen
