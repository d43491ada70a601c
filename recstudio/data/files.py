"""Checking that a path is a readable regular file, and naming what it is when it is not."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from recstudio.errors import RecStudioError

_CHOOSE = "choose a CSV, TSV, JSON lines or Parquet file"


def readable_file(path) -> Path:
    """``path`` as a Path when it is a regular file this user can read; otherwise a RecStudioError that
    says what it is instead (missing, a folder, a named pipe, a device, a looping or broken link,
    not readable)."""
    path = Path(path).expanduser()
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise RecStudioError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                f"point the link at the file or {_CHOOSE}."
            ) from None
        raise RecStudioError(f"File not found: {path}; check the path and try again.") from None
    except OSError as exc:
        raise _os_error(path, exc) from None
    if stat.S_ISDIR(mode):
        raise RecStudioError(f"{path} is a folder, not a file; {_CHOOSE}.")
    if stat.S_ISFIFO(mode):
        raise RecStudioError(
            f"{path} is a named pipe (FIFO), not a file: an import reads its file more than once, which a pipe "
            "cannot give; save the data to a file and choose that."
        )
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise RecStudioError(f"{path} is a device, not a file of data; {_CHOOSE}.")
    if stat.S_ISSOCK(mode):
        raise RecStudioError(f"{path} is a socket, not a file; {_CHOOSE}.")
    if not stat.S_ISREG(mode):
        raise RecStudioError(f"{path} is not a regular file; {_CHOOSE}.")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise _os_error(path, exc) from None
    return path


def _os_error(path: Path, exc: OSError) -> RecStudioError:
    if exc.errno == errno.ELOOP:
        return RecStudioError(
            f"{path} is a symbolic link that loops back on itself; point it at the file or {_CHOOSE}."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return RecStudioError(
            f"Permission denied: {path} cannot be read by this user; allow reading it "
            f"(e.g. chmod u+r on the file and its folders) or copy it somewhere readable, then try again."
        )
    if exc.errno == errno.ENOTDIR:
        return RecStudioError(f"File not found: {path} (a part of the path is a file, not a folder); check the path.")
    return RecStudioError(f"{path} cannot be opened ({exc.strerror or exc}); check the path and try again.")
