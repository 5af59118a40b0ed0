"""The ports: what the core needs from the outside world, as typing.Protocol.

An implementation lives in its own package under ``adapters/`` (the folder artifact store,
the tree PBX driver) and is checked against the same contract tests as any later one, so
callers are typed against these protocols and never against a concrete adapter.
"""
