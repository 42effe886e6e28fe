"""GUID ordering as SQL Server (and so Dataverse) sorts ``uniqueidentifier`` values.

SQL Server compares the 16 bytes of ``Guid.ToByteArray()`` in the order
10-15, 8-9, 6-7, 4-5, 0-3 (``SqlGuid``'s ``x_rgiGuidOrder``). In the hyphenated text form that
means: the last group is the most significant (left to right), then the 4th group (left to right),
then the 3rd, 2nd and 1st groups, each read byte by byte from the right, because .NET stores those
three groups little-endian. Paging order and ``lt/le/gt/ge`` on GUID columns both use this order.
"""

from __future__ import annotations

# Byte positions of the hyphen-less text form, most significant first.
_BYTE_ORDER = (10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0)


def sql_guid_key(guid: str) -> str:
    """A 32-hex-digit string whose plain string order is SQL Server's order of ``guid``.

    Accepts any case, with or without braces; a value that is not a GUID raises ``ValueError``.
    """
    text = guid.strip("{}").replace("-", "").lower()
    if len(text) != 32:
        raise ValueError(f"{guid!r} is not a GUID")
    int(text, 16)  # raises ValueError for non-hex digits
    return "".join(text[2 * i: 2 * i + 2] for i in _BYTE_ORDER)
