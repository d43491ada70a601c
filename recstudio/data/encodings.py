"""Telling a text file's encoding: byte-order marks, UTF-8, then charset-normalizer; a file whose lines disagree is refused."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from recstudio.errors import RecStudioError

#: Names an analyst knows, for the codec names the readers are given.
_LABELS = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 (with byte-order mark)", "utf-16": "UTF-16", "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE", "utf-32": "UTF-32", "latin-1": "Latin-1", "cp1252": "Windows-1252",
    "cp1250": "Windows-1250", "cp1251": "Windows-1251", "cp1253": "Windows-1253", "cp1254": "Windows-1254",
    "cp1255": "Windows-1255", "cp1256": "Windows-1256", "cp1257": "Windows-1257", "cp1258": "Windows-1258",
    "cp932": "Shift-JIS (Windows-31J)", "shift_jis": "Shift-JIS", "euc_jp": "EUC-JP", "gb18030": "GB18030",
    "gbk": "GBK", "big5": "Big5", "cp949": "Korean (CP949)", "euc_kr": "EUC-KR", "koi8_r": "KOI8-R",
}
_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
              (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Multi-byte code pages charset-normalizer tells apart reliably; single-byte Latin ones it does not
# on a short export (it calls plain Latin-1 text "cp1250"), so those are chosen by the rule below.
_MULTIBYTE = {"cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004", "gb18030",
              "gbk", "gb2312", "big5", "big5hkscs", "cp950", "cp949", "euc_kr", "johab", "iso2022_jp"}
_WESTERN = {"cp1252", "latin_1", "iso8859_15", "iso8859_1"}
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_LINE_WITH_NON_ASCII = re.compile(rb"[^\r\n]*[\x80-\xff][^\r\n]*")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
_C1 = re.compile(rb"[\x80-\x9f]")  # control characters in Latin-1, letters and signs in Windows-1252
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_SAMPLE_BYTES = 1 << 16
_BLOCK_BYTES = 1 << 20


def label(codec: str | None) -> str | None:
    """"Windows-1252" for "cp1252"; the codec name itself when it has no better one."""
    if codec is None:
        return None
    return _LABELS.get(codec.lower(), codec)


def wide_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 by byte-order mark (Excel's "Unicode text"), or UTF-16 without one when every
    other byte of the text is NUL; None for other text."""
    for bom, codec in _WIDE_BOMS:
        if head.startswith(bom):
            return codec
    sample = head[:4096]
    if len(sample) >= 16 and b"\x00" in sample:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "utf-16-be"
    return None


def is_utf8(data: bytes, final: bool) -> bool:
    try:
        # final=False: a sample may end in the middle of a multi-byte character
        codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
        return True
    except UnicodeDecodeError:
        return False


@dataclass
class _Scan:
    utf8_line: int | None = None  # first line with non-ASCII text that is UTF-8
    other_line: int | None = None  # first line that is not UTF-8
    c1: bool = False  # a byte 0x80-0x9F in the lines that are not UTF-8
    cp1252_undefined: bool = False
    sample: bytearray = field(default_factory=bytearray)  # lines that are not UTF-8, for charset-normalizer

    @property
    def done(self) -> bool:
        return self.utf8_line is not None and self.other_line is not None


def detect(open_text: Callable[[], BinaryIO], name: str) -> str:
    """The encoding of a text file that is not all UTF-8 (``open_text`` opens its bytes, decompressed).

    The whole file is scanned, a block at a time: when some lines are UTF-8 and others are not, a
    RecStudioError names one line of each. Otherwise the lines that are not UTF-8 decide: a multi-byte
    code page (Shift-JIS, GB18030, ...) when charset-normalizer finds one; for Latin text
    Windows-1252 when bytes 0x80-0x9F occur (in Latin-1 they are control characters, never text),
    else Latin-1; another Windows code page (Cyrillic, Greek, ...) when the text reads as one.
    """
    with open_text() as stream:
        scan = _scan(stream)
    if scan.other_line is None:
        return "utf-8"
    codec = _choose(bytes(scan.sample), scan)
    if scan.utf8_line is not None:
        raise RecStudioError(
            f"{name} mixes text encodings: line {scan.utf8_line:,} is UTF-8 but line {scan.other_line:,} is not "
            f"(it looks like {label(codec)}); save the whole file in one encoding (UTF-8) and import it again."
        )
    return codec


def _scan(stream: BinaryIO) -> _Scan:
    scan = _Scan()
    line, carry, first = 1, b"", True
    while not scan.done:
        data = stream.read(_BLOCK_BYTES)
        block = carry + data
        if data:
            cut = max(block.rfind(b"\n"), block.rfind(b"\r")) + 1
            if cut == 0 and len(block) < 64 * _BLOCK_BYTES:
                carry = block  # one very long line: read on to its end
                continue
            cut = cut or len(block)
            block, carry = block[:cut], block[cut:]
        if first:
            first = False
            if block.startswith(codecs.BOM_UTF8):
                block = block[3:]
        _scan_block(block, line, scan)
        line += _line_breaks(block)
        if not data:
            break
    return scan


def _scan_block(block: bytes, line: int, scan: _Scan) -> None:
    if block.isascii():
        return
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if scan.utf8_line is None:
            scan.utf8_line = line + _line_breaks(block[: _NON_ASCII.search(block).start()])
        return
    if scan.other_line is not None and len(scan.sample) >= _SAMPLE_BYTES:
        # the encoding of the other lines is known: only look for a UTF-8 line and the bytes 0x80-0x9F
        scan.c1 = scan.c1 or bool(_C1.search(block))
        scan.cp1252_undefined = scan.cp1252_undefined or bool(_CP1252_UNDEFINED.search(block))
        if scan.utf8_line is None:
            for match in _UTF8_SEQUENCE.finditer(block):
                start = max(block.rfind(b"\n", 0, match.start()), block.rfind(b"\r", 0, match.start())) + 1
                text = _LINE_WITH_NON_ASCII.match(block, start)
                if text is not None and _decodes(text.group()):
                    scan.utf8_line = line + _line_breaks(block[:start])
                    return
        return
    for match in _LINE_WITH_NON_ASCII.finditer(block):
        text = match.group()
        if _decodes(text):
            if scan.utf8_line is None:
                scan.utf8_line = line + _line_breaks(block[: match.start()])
        else:
            if scan.other_line is None:
                scan.other_line = line + _line_breaks(block[: match.start()])
            if len(scan.sample) < _SAMPLE_BYTES:
                scan.sample += text + b"\n"
            scan.c1 = scan.c1 or bool(_C1.search(text))
            scan.cp1252_undefined = scan.cp1252_undefined or bool(_CP1252_UNDEFINED.search(text))
        if scan.done:
            return


def _decodes(text: bytes) -> bool:
    try:
        text.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _line_breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _choose(sample: bytes, scan: _Scan) -> str:
    from charset_normalizer import from_bytes

    western = "cp1252" if scan.c1 and not scan.cp1252_undefined else "latin-1"
    matches = list(from_bytes(sample))
    if not matches:
        return western
    best = matches[0]
    if best.encoding in _MULTIBYTE and best.chaos <= 0.2 and _strict(sample, best.encoding):
        return best.encoding
    near = [m for m in matches if m.chaos <= best.chaos + 0.1]
    if any(_WESTERN & set(m.could_be_from_charset) for m in near):
        return western
    for match in near:
        windows = [c for c in match.could_be_from_charset if c.startswith("cp125")]
        if windows and _strict(sample, windows[0]):
            return windows[0]
    return western


def _strict(sample: bytes, codec: str) -> bool:
    try:
        sample.decode(codec)
        return True
    except (UnicodeDecodeError, LookupError):
        return False
