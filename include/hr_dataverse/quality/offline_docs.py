"""GX Data Docs that render with no internet access.

GX's Data Docs pages load jQuery, Bootstrap, bootstrap-table, Font Awesome, Vega and GX's logo from
CDNs; without them the index renders blank (its table is built by scripts). :func:`make_offline`
copies the vendored copies (``vendor/``, see ``vendor/VENDOR.md``) into ``<docs>/static/vendor/``
and rewrites every CDN URL in the site's HTML and CSS to a relative path to them; GX's logo comes
from the site's own ``static/images``. Idempotent: run it after every ``build_data_docs``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

VENDOR = Path(__file__).with_name("vendor")
VENDOR_DIR = "static/vendor"
_BT = "https://unpkg.com/bootstrap-table@"
# CDN URL → file under vendor/ (the GX 1.24 templates' URLs).
CDN_FILES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1/bootstrap.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper-1.12.9.min.js",
    f"{_BT}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table-1.19.1/bootstrap-table.min.css",
    f"{_BT}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table-1.19.1/bootstrap-table.min.js",
    f"{_BT}1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",
    f"{_BT}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    f"{_BT}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome-6.6.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-prefers-dark-1.1.0.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0.min.js",
}
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"


def make_offline(docs: str | os.PathLike[str]) -> int:
    """Vendor the assets into the Data Docs site ``docs`` and point its pages at them; returns the
    number of files rewritten. A site that does not exist yet is left alone."""
    root = Path(docs)
    if not root.is_dir():
        return 0
    target = root / VENDOR_DIR
    shutil.copytree(VENDOR, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.md"))
    rewritten = 0
    for path in [*root.rglob("*.html"), *root.rglob("*.css")]:
        if target in path.parents:
            continue
        text = path.read_text(encoding="utf-8")
        new = _rewrite(text, os.path.relpath(root, path.parent))
        if new != text:
            path.write_text(new, encoding="utf-8")
            rewritten += 1
    return rewritten


def _rewrite(text: str, to_root: str) -> str:
    prefix = "" if to_root == "." else f"{to_root}/"
    # Longest URLs first: "vega@5" must not eat the start of "vega-lite@5"'s neighbours.
    for url in sorted(CDN_FILES, key=len, reverse=True):
        text = text.replace(url, f"{prefix}{VENDOR_DIR}/{CDN_FILES[url]}")
    return text.replace(GX_IMAGES, f"{prefix}static/images/")
