"""Hostile strings for property-based tests: SQL, HTML, control characters, emoji, odd Unicode."""

from __future__ import annotations

from hypothesis import strategies as st

# Hand-picked strings that have broken real systems; hypothesis mixes them with random text.
NASTY: tuple[str, ...] = (
    "'; DROP TABLE notifications; --",
    "Robert'); DELETE FROM users WHERE ('1'='1",
    "%s %(user_id)s {0} $1 $$ $body$ \\x00 \\",
    "' OR 1=1 --",
    "<script>alert(document.cookie)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg/onload=alert(1)>",
    "&lt;b&gt;&amp;&quot;&#39;",
    "javascript:alert(1)",
    "\u202eevil\u202c",  # right-to-left override
    "\ufeff\u200b\u200d\u2060",  # BOM, zero-width space/joiner, word joiner
    "\x01\x07\x08\x1b[31mred\x1b[0m\x7f",
    "line\r\nbreak\ttab\x0bvt\x0cff",
    "👩‍👩‍👧‍👦🏳️‍🌈🇺🇦👍🏽🧑🏿‍🚀✊🏾🫶🏻",  # ZWJ sequences, flags, skin tones (over 20 chars)
    "🔥",
    "e\u0301\u0302\u0303\u0304",  # stacked combining marks
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ｆｕｌｌｗｉｄｔｈ 中文 العربية",
    "\U0010ffff\ufffd\ufffe\uffff",
    "",
    " ",
    "null",
    "None",
    "0",
    "-1",
    "9" * 30,
)

# Everything PostgreSQL's UTF-8 text can hold: no NUL, no lone surrogates.
_STORABLE = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
# Sometimes a NUL, to show PostgreSQL (not our trigger) is the one refusing it.
_ANY = st.characters(exclude_categories=("Cs",))


def hostile_text(max_size: int, *, allow_nul: bool = False) -> st.SearchStrategy[str]:
    """Strings up to `max_size` characters that a host column may hold (or, rarely, may not)."""
    chars = _ANY if allow_nul else _STORABLE
    return st.one_of(
        st.sampled_from([s for s in NASTY if len(s) <= max_size]),
        st.text(chars, max_size=max_size),
        st.lists(st.sampled_from(NASTY), min_size=1, max_size=4).map("".join).map(
            lambda s: s[:max_size]),
    )


def storable(max_size: int) -> st.SearchStrategy[str]:
    """Hostile strings that PostgreSQL text accepts (no NUL), up to `max_size` characters."""
    return hostile_text(max_size)
