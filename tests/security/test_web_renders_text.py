"""The web elements never turn data into markup: no HTML sinks anywhere in web/.

The browser tests show that hostile handles, titles and previews render as
text on the pages they drive; this keeps every other path (live arrivals,
the button, the demo pages, future elements) from growing an HTML sink.
"""

from __future__ import annotations

import re

from devkit.servers import REPO_ROOT

WEB = REPO_ROOT / "web"
# Ways a string becomes markup or code in a browser.
SINKS = re.compile(r"\.(innerHTML|outerHTML|srcdoc)\s*[+]?=|insertAdjacentHTML\s*\(|document\.write"
                   r"|dangerouslySetInnerHTML"
                   r"|\beval\s*\(|\bnew\s+Function\s*\(|createContextualFragment|DOMParser"
                   r"|setAttribute\(\s*[\"']on|\.on[a-z]+\s*=\s*[\"'`]")


def test_no_html_sinks_in_web_modules() -> None:
    """No shipped module or page assigns HTML, evaluates strings or sets inline handlers."""
    # The package's modules and React bindings, the demo and the example app's own
    # code; not what npm installed or Next.js built.
    skipped = {"tests", "node_modules", ".next"}
    files = [p for p in WEB.rglob("*") if p.suffix in (".js", ".mjs", ".html", ".tsx", ".ts")
             and p.is_file() and not skipped & set(p.relative_to(WEB).parts)]
    assert any(p.name == "index.js" and p.parent.name == "react" for p in files), files
    assert len(files) >= 8, files
    found = [f"{p.relative_to(REPO_ROOT)}:{n}: {line.strip()}"
             for p in files for n, line in enumerate(p.read_text().splitlines(), 1)
             if SINKS.search(line)]
    assert found == []


def test_the_sink_pattern_catches_what_it_must() -> None:
    """The pattern above really matches the usual ways of injecting markup."""
    for bad in ("el.innerHTML = x", "el.outerHTML += x", "el.insertAdjacentHTML('beforeend', x)",
                "document.write(x)", "eval(x)", "new Function(x)", "frame.srcdoc = x",
                "el.setAttribute('onclick', x)", "el.onclick = 'alert(1)'",
                "<div dangerouslySetInnerHTML={{ __html: x }} />"):
        assert SINKS.search(bad), bad
    for good in ("el.textContent = x", "el.append(text)", "li.dataset.seq = x",
                 "el.addEventListener('click', f)"):
        assert not SINKS.search(good), good
