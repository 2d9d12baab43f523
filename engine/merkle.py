"""A Merkle tree over a checkpoint's chain heads, and the path that proves one head is in it.

Leaves and inner nodes are hashed with different prefixes (as in RFC 6962), so a leaf can never
be passed off as a node. Leaves are sorted by chain name; an odd node at the end of a level is
carried up unchanged. An outsider needs only this file's rules to check an exported proof.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(chain: str, seq: int, head: str) -> str:
    content = json.dumps([chain, seq, head], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"\x00" + content.encode()).hexdigest()


def node_hash(left: str, right: str) -> str:
    return hashlib.sha256(b"\x01" + bytes.fromhex(left) + bytes.fromhex(right)).hexdigest()


def _levels(leaves: list[str]) -> list[list[str]]:
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


def merkle_root(leaves: list[str]) -> str:
    """The root over leaf hashes in order; an empty tree has the hash of nothing."""
    if not leaves:
        return EMPTY_ROOT
    return _levels(leaves)[-1][0]


def merkle_path(leaves: list[str], index: int) -> list[dict[str, Any]]:
    """The siblings from leaf `index` up to the root: [{"side": "left"|"right", "hash"}]."""
    path = []
    for level in _levels(leaves)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append({"side": "left" if sibling < index else "right", "hash": level[sibling]})
        index //= 2
    return path


def root_from_path(leaf: str, path: list[dict[str, Any]]) -> str:
    """Fold a path onto its leaf; equal to the root when the leaf is in the tree."""
    current = leaf
    for step in path:
        if step["side"] == "left":
            current = node_hash(step["hash"], current)
        else:
            current = node_hash(current, step["hash"])
    return current
