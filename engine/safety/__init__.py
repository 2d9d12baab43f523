"""Safety at the edges: hardened XML parsing, whitelisted expressions, restricted scripts."""
