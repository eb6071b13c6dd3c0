"""The website's HTML cleaning (aecourse_tools.sanitise): what runs goes, what the course shows stays.

The pages built with it are opened in Chromium by tests/test_site.py (probes 67-69 of
PROBES-2026-12-05: planted scripts in markdown, an HTML output and a record's note).
"""

import pytest

from aecourse_tools.sanitise import clean_html, safe_link


@pytest.mark.parametrize("payload", [
    "<script>window.x = 1</script>",
    '<img src="a.png" onerror="window.x = 1">',
    '<a href="javascript:window.x = 1">link</a>',
    '<a href="data:text/html,<script>window.x = 1</script>">link</a>',
    '<iframe src="https://example.org"></iframe>',
    '<svg onload="window.x = 1"></svg>',
    '<style>body { display: none }</style>',
    '<p style="background: url(javascript:window.x=1)">text</p>',
    '<form action="https://example.org"><input name="a"></form>',
])
def test_nothing_that_runs_survives(payload):
    cleaned = clean_html(payload)
    for gone in ("<script", "onerror", "onload", "javascript:", "data:text", "<iframe", "<svg", "<style", "<form",
                 "<input"):
        assert gone not in cleaned.lower(), (payload, cleaned)


def test_the_course_html_and_the_concept_question_fallback_stay_as_they_are():
    course = ('<p class="course-live-note">Interactive widget: the figure</p>'
              "<details><summary>Which code size copies?</summary><p>The <b>wide</b> one, "
              "<strong>always</strong>: <code>latent_dim=1024</code></p><ul><li>one</li><li>two</li></ul></details>"
              '<table><thead><tr><th>a</th></tr></thead><tbody><tr><td align="right">1</td></tr></tbody></table>'
              '<img src="data:image/png;base64,iVBORw0KGgo=" alt="a figure" width="10">')
    assert clean_html(course) == course


def test_links_keep_harmless_schemes_only():
    assert safe_link("https://github.com/x") and safe_link("notebooks/01.html#a") and safe_link("mailto:a@b.c")
    assert not safe_link("javascript:alert(1)") and not safe_link(" JavaScript:alert(1)")
    assert not safe_link("data:text/html,x") and not safe_link("vbscript:x")
