"""The website shows content, never runs it: every piece of raw HTML goes through nh3 before it reaches a page.

Raw HTML reaches a page from a notebook's markdown (``<script>``, ``<img onerror=...>``, a
``{raw} html`` block), from a code cell's ``text/html`` output, and from the run's
``results.json`` (a record's note lands in the results table). All of it becomes a raw
node in Sphinx's document tree; this Sphinx extension (``aecourse site`` lists it in
``conf.py``) cleans each one with nh3, the Rust ``ammonia`` sanitiser, once every transform
has run: scripts, ``<style>``, event handlers, ``javascript:`` and other unknown URL schemes
go; text, tables, lists, ``<details>``/``<summary>``, images and links stay. Links made by
the document itself keep only harmless schemes too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3

TAGS = set(nh3.ALLOWED_TAGS)  # text, tables, lists, details/summary, figures, images, links: no script, style, form
ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = {"class", "title", "lang", "style"}   # the course's own HTML styles itself by class
ATTRIBUTES["img"] = ATTRIBUTES.get("img", set()) | {"src", "alt", "width", "height"}
STYLE_PROPERTIES = {"text-align", "vertical-align", "color", "background-color", "font-weight", "font-style",
                    "font-family", "width", "max-width", "height", "border", "padding", "margin", "white-space"}
URL_SCHEMES = set(nh3.ALLOWED_URL_SCHEMES) | {"data"}  # data: only for images: see _keep_attribute
SAFE_LINK_SCHEMES = {"", "http", "https", "mailto"}


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """An inline image may be a data: URL (a plot as base64); nothing else may be data: (it could be a page)."""
    if value.strip().lower().startswith("data:") and not (
            tag == "img" and attribute == "src" and value.strip().lower().startswith("data:image/")):
        return None
    return value


def clean_html(html: str) -> str:
    """``html`` without anything that runs: no script, no event handler, no javascript: URL, no style sheet."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, attribute_filter=_keep_attribute,
                     url_schemes=URL_SCHEMES, filter_style_properties=STYLE_PROPERTIES)


def safe_link(uri: str) -> bool:
    """Whether a link may stay on a page: relative, http(s) or mailto (never javascript:, data: or vbscript:)."""
    return urlsplit(uri.strip()).scheme.lower() in SAFE_LINK_SCHEMES


def clean_doctree(app, doctree, docname: str) -> None:
    """Clean every raw HTML node and drop unsafe link targets of one page (Sphinx's ``doctree-resolved``)."""
    from docutils import nodes

    for node in list(doctree.findall(nodes.raw)):
        if "html" in node.get("format", "").split():
            node[:] = [nodes.Text(clean_html(node.astext()))]
    for node in doctree.findall(nodes.reference):
        if "refuri" in node and not safe_link(node["refuri"]):
            del node["refuri"]


def setup(app) -> dict:
    """Register the cleaning with Sphinx (listed in the site's ``conf.py`` extensions)."""
    app.connect("doctree-resolved", clean_doctree)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
