"""Private keys by content, whatever the file is called: the one check every source of project files
and every diff uses (a copy or a hard link of ``~/.ssh/id_rsa`` under an ordinary name passes name and
symlink checks)."""

from __future__ import annotations

import re

#: The armour line of a private key (PEM, OpenSSH, PGP), whatever the file is called, followed by key
#: material: a run of base64 within the next lines (after PEM or PGP headers, diff markers, quotes or an
#: escaped ``\n`` as in a service-account JSON). A bare armour line (code that parses keys, docs that
#: name the format) is no key.
PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.{0,400}?)"
    r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{40}"
)


#: Why a change's file is withheld for holding a key. A planted key block would otherwise hide a file's whole
#: change quietly: the note makes the key itself a finding, so withholding never passes a review silently.
PRIVATE_KEY_WITHHELD = (
    "a file holding a private key; a committed private key is itself a finding to report (high severity), "
    "and none of this file's change can be reviewed until the key is removed"
)


def holds_private_key(text: str) -> bool:
    """Does ``text`` hold a private key? Names alone miss a copy, or a hard link, of ``~/.ssh/id_rsa``
    under an ordinary name (a hard link passes every symlink check). Code or docs that only name the
    armour line (``if line.startswith("-----BEGIN RSA PRIVATE KEY-----")``) are read and reviewed."""
    return PRIVATE_KEY.search(text) is not None
