"""Files written by the scripts the way pagerace writes its own: whole or not
at all.  Imported by scripts/compare, scripts/reports and scripts/scaling,
which run from this folder."""
import os
import tempfile


def write_atomic(path, text):
    """Writes `text` to `path` through a temporary file beside it and a rename,
    so a reader (or a merge of shards) never sees half a file.  A path that
    exists and is not a regular file (/dev/stdout, a FIFO) is written in place:
    renaming over it would replace the node with a regular file."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "w") as f:
            f.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # as open() would; mkstemp makes 0600
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
