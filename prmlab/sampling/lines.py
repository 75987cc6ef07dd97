"""The line structure of responses, and stop-string search.

Line steps: a response is split on ``"\\n"``; the *line-end token* of line j is the token whose
character span covers that line's newline. Byte-level BPE merges a newline with the following
indentation (``"\\n    "`` is one token), so spans come from the tokenizer's decoded pieces, not
from counting newline tokens. A final line without a newline ends at the last response token.
"""
from __future__ import annotations

from typing import Optional, Sequence


def split_lines(response: str) -> list[str]:
    """Lines of a response; the empty string after a trailing newline is not a line."""
    lines = response.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def token_char_ends(tokenizer, ids: Sequence[int], text: Optional[str] = None) -> list[int]:
    """End offset (exclusive, in characters of ``decode(ids)``) of every token.

    Decoding token by token is exact for byte-level BPE on ASCII; when the pieces do not
    concatenate to the full decode (SentencePiece space markers, split UTF-8), fall back to
    decoding every prefix, which is exact for any tokenizer.
    """
    ids = list(ids)
    full = tokenizer.decode(ids, skip_special_tokens=False) if text is None else text
    pieces = [tokenizer.decode([i], skip_special_tokens=False) for i in ids]
    ends, n = [], 0
    for p in pieces:
        n += len(p)
        ends.append(n)
    if "".join(pieces) == full:
        return ends
    return [len(tokenizer.decode(ids[: i + 1], skip_special_tokens=False)) for i in range(len(ids))]


def line_end_tokens(response: str, char_ends: Sequence[int]) -> list[int]:
    """For each line of ``response``, the index of the token covering its newline."""
    out, tok, pos = [], 0, 0
    n_tok = len(char_ends)
    for line in split_lines(response):
        nl = pos + len(line)  # char index of this line's "\n" (== len(response) for an unterminated last line)
        if nl >= len(response):
            out.append(n_tok - 1)
            break
        while tok < n_tok - 1 and char_ends[tok] <= nl:
            tok += 1
        out.append(tok)
        pos = nl + 1
    return out


def first_stop(text: str, stops: Sequence[str]) -> int:
    """Character index of the earliest occurrence of any of ``stops`` in ``text``, or -1."""
    cut = -1
    for s in stops:
        i = text.find(s)
        if i >= 0 and (cut < 0 or i < cut):
            cut = i
    return cut
