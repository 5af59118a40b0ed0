"""PBX side: the HTTP client every PBX driver talks through, and one package per PBX kind."""
