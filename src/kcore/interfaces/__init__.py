"""Plugin interfaces a node agent drives: CRI (containers), CNI (networks), CSI (volumes).

Each subpackage has the protocol's types, an async client, a server base class and a fake that
behaves like the real thing. This layer imports no other kcore layer but `kcore.errors` and
`kcore.clock`, so a program can use it on its own.
"""
